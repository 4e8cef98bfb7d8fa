// The core Agent Server API flow from Node with the official JS client, against a `factory serve`
// whose fake model answers slowly, token by token. Prints one JSON object for
// tests/agent_server/test_js_sdk.py to check; exits non-zero when a call throws.
//
//   node flow.mjs http://127.0.0.1:PORT ASSISTANT_ID
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl, assistantId] = process.argv.slice(2);
const client = new Client({ apiUrl, apiKey: process.env.FACTORY_TEST_API_KEY ?? null });
const input = { messages: [{ type: "human", content: [{ type: "text", text: "hi from node" }] }] };
const out = {};

// a thread, then a run streamed with values and message chunks
const thread = await client.threads.create({ metadata: { from: "node" } });
const tid = thread.thread_id;
let created = null;
const parts = [];
for await (const part of client.runs.stream(tid, assistantId, {
  input,
  streamMode: ["values", "messages-tuple"],
  onRunCreated: (meta) => { created = meta; },
})) {
  parts.push({ event: part.event, data: part.data, at: performance.now() });
}
out.created = created;
out.events = parts.map((p) => p.event);
out.metadata = parts[0].data;
const chunks = parts.filter((p) => p.event === "messages");
out.tokens = chunks.map((p) => p.data[0].content);
out.tokenIds = [...new Set(chunks.map((p) => p.data[0].id))];
out.tokenSpreadMs = chunks.length ? chunks.at(-1).at - chunks[0].at : 0;
out.lastValues = parts.filter((p) => p.event === "values").at(-1).data;

// state, history, and the thread found by its graph id
const state = await client.threads.getState(tid);
out.stateValues = state.values;
out.stateCheckpoint = state.checkpoint;
const history = await client.threads.getHistory(tid, { limit: 10 });
out.historyCheckpoints = history.map((h) => h.checkpoint.checkpoint_id);
const found = await client.threads.search({ metadata: { graph_id: assistantId }, limit: 100 });
out.foundThread = found.some((t) => t.thread_id === tid);
out.threadStatus = (await client.threads.get(tid)).status;

// a background run: a second run on the busy thread is refused, then join it and replay its events
const run = await client.runs.create(tid, assistantId, { input, streamMode: ["messages-tuple"], streamResumable: true });
try {
  await client.runs.create(tid, assistantId, { input });
  out.busy = "accepted";
} catch (error) {
  out.busy = error.status ?? String(error);
}
out.joined = await client.runs.join(tid, run.run_id);
out.runStatus = (await client.runs.get(tid, run.run_id)).status;
const replay = [];
for await (const part of client.runs.joinStream(tid, run.run_id, { lastEventId: "-1" })) {
  replay.push(part);
}
out.replayIds = replay.map((p) => p.id);
out.replayTokens = replay.filter((p) => p.event === "messages").map((p) => p.data[0].content);

// a run cancelled midway leaves the thread as it was
const before = (await client.threads.getState(tid)).values;
const doomed = await client.runs.create(tid, assistantId, { input, streamMode: ["messages-tuple"] });
for await (const part of client.runs.joinStream(tid, doomed.run_id, { lastEventId: "-1" })) {
  if (part.event === "messages") break;
}
await client.runs.cancel(tid, doomed.run_id, true);
out.cancelledStatus = (await client.runs.get(tid, doomed.run_id)).status;
out.unchanged = JSON.stringify((await client.threads.getState(tid)).values) === JSON.stringify(before);

// an unknown assistant is a 404 the client reports
try {
  await client.runs.wait(tid, "no-such-assistant", { input });
  out.unknownAssistant = "accepted";
} catch (error) {
  out.unknownAssistant = error.status ?? String(error);
}

process.stdout.write(JSON.stringify(out));
