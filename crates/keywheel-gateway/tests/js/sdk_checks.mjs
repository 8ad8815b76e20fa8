// The official `openai` npm package against `keywheel serve` (run by tests/gateway/sdk.rs):
// a plain answer and a streamed one. Reads OPENAI_BASE_URL and OPENAI_API_KEY like any
// unmodified script; prints one `ok <check>` line per check and exits 1 on a failure.
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: 0 });

const { data: answer, response } = await client.chat.completions
  .create({ model: "keywheel/chat", messages: [{ role: "user", content: "What is 2+2?" }] })
  .withResponse();
if (!answer.choices[0].message.content.startsWith("You asked:")) throw new Error(JSON.stringify(answer));
if (!response.headers.get("x-keywheel-key-id")) throw new Error("no X-Keywheel-Key-Id header");
if (!answer.choices[0].message.reasoning) throw new Error("no reasoning on the message");
console.log(`ok plain ${response.headers.get("x-keywheel-key-id")}`);

const stream = await client.chat.completions.create({
  model: "keywheel/chat",
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "user", content: "Stream a short answer" }],
});
let content = "";
let reasoning = "";
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks += 1;
  if (chunk.usage) usage = chunk.usage;
  const delta = chunk.choices[0]?.delta;
  content += delta?.content ?? "";
  reasoning += delta?.reasoning ?? "";
}
if (!content.startsWith("You asked:")) throw new Error(`content: ${content}`);
if (!reasoning) throw new Error("no reasoning deltas");
if (!usage || !(usage.total_tokens > 0) || usage.cost === undefined) throw new Error(`usage: ${JSON.stringify(usage)}`);
console.log(`ok streaming ${chunks} chunks`);
