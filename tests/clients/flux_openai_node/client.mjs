// The official npm `openai` client against a running fluxserve (FLUX_BASE_URL, e.g.
// http://127.0.0.1:PORT/v1): a plain generation, then a stream with partial images, read
// by the SDK unmodified. Exits non-zero with the reason when anything is off.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.FLUX_BASE_URL, apiKey: 'unused', maxRetries: 0 });
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

async function plainGeneration() {
  const image = await client.images.generate({
    model: 'demo', prompt: 'a lighthouse', size: '64x64', seed: 5, steps: 4,
  });
  assert.equal(image.data.length, 1);
  assert.ok(Buffer.from(image.data[0].b64_json, 'base64').subarray(0, 4).equals(PNG), 'a PNG');
  return image.data[0].b64_json;
}

async function streamedGeneration() {
  const stream = await client.images.generate({
    model: 'demo', prompt: 'a lighthouse', size: '64x64', seed: 5,
    stream: true, partial_images: 2, steps: 4,
  });
  const types = [];
  let completed = null;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'image_generation.partial_image') {
      assert.equal(event.partial_image_index, types.filter((t) => t === event.type).length - 1);
      assert.ok(Buffer.from(event.b64_json, 'base64').subarray(0, 4).equals(PNG), 'a PNG preview');
    }
    if (event.type === 'image_generation.completed') completed = event;
  }
  assert.equal(types.filter((t) => t === 'image_generation.partial_image').length, 2, types.join());
  assert.equal(types.filter((t) => t === 'image_generation.progress').length, 4, types.join());
  assert.equal(types.at(-1), 'image_generation.completed', types.join());
  assert.equal(completed.size, '64x64');
  return completed.b64_json;
}

async function failedStream() {
  const stream = await client.images.generate({
    model: 'demo', prompt: 'x', size: '64x64', stream: true, steps: 1000, timeout_s: 0.2,
  });
  try {
    for await (const event of stream) void event;
  } catch (error) {
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.code, 'deadline_exceeded');
    return;
  }
  assert.fail('a stream past its deadline must end with an error the SDK raises');
}

const plain = await plainGeneration();
const streamed = await streamedGeneration();
assert.equal(streamed, plain, 'the streamed image is the synchronous one (same seed)');
await failedStream();
console.log('openai-node client: plain, streamed and failed generations as expected');
