"""`GET /test/streaming`: the same message sent streaming and non-streaming, timed side by side.

Time to first token is the number this project exists for: the left column reads `/chat/stream`
(SSE, token by token), the right one `/v1/chat/completions` with `stream: false` (the whole reply at
once). Each side starts a new thread, so the two runs never wait on each other.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from graphs.server._state import server_state

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__NAME__: streaming vs. non-streaming</title>
<style>
 body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
 .row{display:flex;gap:1.5rem} .col{flex:1;border:1px solid #ccc;border-radius:8px;padding:1rem}
 .out{white-space:pre-wrap;min-height:6rem;background:#f7f7f7;padding:.6rem;border-radius:6px}
 .num{font-size:1.6rem;font-variant-numeric:tabular-nums} input[type=text]{width:60%;padding:.4rem}
 .err{color:#b00}
</style></head><body>
<h1>__NAME__</h1><p>__DESCRIPTION__</p>
<form id="form"><input id="message" type="text" value="Hello!" aria-label="message">
 <input id="apikey" type="password" placeholder="API key (if required)" aria-label="API key">
 <button id="send" type="submit">Send both</button></form>
<div class="row">
 <div class="col" id="stream"><h2>Streaming <small>POST /chat/stream</small></h2>
  <div>first token <span class="num" id="stream-ttft">-</span> ms &middot;
   total <span class="num" id="stream-total">-</span> ms</div>
  <div class="out" id="stream-output"></div></div>
 <div class="col" id="whole"><h2>Non-streaming <small>POST /v1/chat/completions</small></h2>
  <div>first token <span class="num" id="whole-ttft">-</span> ms &middot;
   total <span class="num" id="whole-total">-</span> ms</div>
  <div class="out" id="whole-output"></div></div>
</div>
<script>
const $ = (id) => document.getElementById(id);
function headers() {
  const h = {"Content-Type": "application/json"}; const key = $("apikey").value;
  if (key) { h["Authorization"] = "Bearer " + key;
             document.cookie = "factory_api_key=" + encodeURIComponent(key) + "; path=/; SameSite=Strict"; }
  return h;
}
async function streaming(message) {
  const out = $("stream-output"); out.textContent = ""; out.className = "out";
  const t0 = performance.now(); let first = null;
  const res = await fetch("/chat/stream", {method: "POST", headers: headers(),
                          body: JSON.stringify({message})});
  if (!res.ok) {
    out.textContent = "HTTP " + res.status + " " + await res.text(); out.className = "out err"; return;
  }
  const reader = res.body.getReader(); const dec = new TextDecoder(); let buf = "";
  for (;;) {
    const {value, done} = await reader.read(); if (done) break;
    buf += dec.decode(value, {stream: true}).replace(/\\r\\n/g, "\\n");
    let cut;
    while ((cut = buf.indexOf("\\n\\n")) >= 0) {
      const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data) continue;
      const payload = JSON.parse(data);
      if (event === "token") {
        if (first === null) {
          first = performance.now() - t0; $("stream-ttft").textContent = first.toFixed(0);
        }
        out.textContent += payload.text;
      } else if (event === "error") { out.textContent += "\\n[error " + payload.code + "] " + payload.message;
                                       out.className = "out err"; }
    }
  }
  $("stream-total").textContent = (performance.now() - t0).toFixed(0);
  $("stream").dataset.done = "1";
}
async function whole(message) {
  const out = $("whole-output"); out.textContent = ""; out.className = "out";
  const t0 = performance.now();
  const res = await fetch("/v1/chat/completions", {method: "POST", headers: headers(),
    body: JSON.stringify({model: "__MODEL__", messages: [{role: "user", content: message}], stream: false})});
  const ms = (performance.now() - t0).toFixed(0);
  const body = await res.json();
  if (!res.ok) {
    out.textContent = "HTTP " + res.status + " " + JSON.stringify(body); out.className = "out err";
  }
  else { out.textContent = body.choices[0].message.content; }
  $("whole-ttft").textContent = ms; $("whole-total").textContent = ms;
  $("whole").dataset.done = "1";
}
$("form").addEventListener("submit", (e) => {
  e.preventDefault(); const m = $("message").value;
  $("stream").dataset.done = ""; $("whole").dataset.done = "";
  streaming(m); whole(m);
});
</script></body></html>
"""


@router.get("/test/streaming", response_class=HTMLResponse)
async def streaming_page(request: Request) -> HTMLResponse:
    plan = server_state(request).plan
    page = (
        _PAGE.replace("__NAME__", html.escape(plan["name"]))
        .replace("__DESCRIPTION__", html.escape(plan["description"] or ""))
        .replace("__MODEL__", html.escape(plan["name"]))
    )
    return HTMLResponse(page)
