// The official npm `openai` client against a running fluxserve (FLUX_BASE_URL, e.g.
// http://127.0.0.1:PORT/v1): a plain generation, then a stream with partial images, read
// by the SDK unmodified, a failed stream and an edit (images.edit, multipart with a mask).
// Exits non-zero with the reason when anything is off.
import OpenAI, { toFile } from 'openai';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';

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

// A width x height RGBA PNG whose pixel (x, y) is rgba(x, y), written by hand (no image
// package): signature, IHDR, one zlib IDAT of unfiltered rows, IEND.
function png(width, height, rgba) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8);  // 8-bit RGBA
  const rows = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(rgba(x, y), y * (1 + width * 4) + 1 + x * 4);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// images.edit as the SDK sends it (multipart, the mask's transparent pixels marking the area
// to repaint), on the test pipeline, which edits; then a mask of the wrong size.
async function edit() {
  const image = await toFile(png(32, 32, (x, y) => [x * 8, y * 8, 90, 255]), 'in.png',
    { type: 'image/png' });
  const mask = await toFile(png(32, 32, (x) => [0, 0, 0, x < 16 ? 0 : 255]), 'mask.png',
    { type: 'image/png' });
  const edited = await client.images.edit({
    model: 'pattern', image, mask, prompt: 'a hat', seed: 4, strength: 0.5,
  });
  assert.equal(edited.data.length, 1);
  assert.ok(Buffer.from(edited.data[0].b64_json, 'base64').subarray(0, 4).equals(PNG), 'a PNG');
  assert.equal(edited.parameters.edit, 'inpaint');
  assert.equal(edited.parameters.strength, 0.5);
  // The demo FLUX model edits too (image-to-image: no mask), keeping the image's size.
  const flux = await client.images.edit({
    model: 'demo', image: await toFile(png(64, 48, (x, y) => [x * 4, y * 5, 60, 255]), 'in.png',
      { type: 'image/png' }), prompt: 'a boat', seed: 2, steps: 4, strength: 0.5,
  });
  assert.equal(flux.parameters.edit, 'img2img');
  assert.equal(flux.parameters.width, 64);
  assert.equal(flux.parameters.height, 48);
  const small = await toFile(png(8, 8, () => [0, 0, 0, 0]), 'small.png', { type: 'image/png' });
  try {
    await client.images.edit({ model: 'pattern', image, mask: small, prompt: 'x' });
    assert.fail('a mask of another size is refused');
  } catch (error) {
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.param, 'mask');
  }
}

const plain = await plainGeneration();
const streamed = await streamedGeneration();
assert.equal(streamed, plain, 'the streamed image is the synchronous one (same seed)');
await failedStream();
await edit();
console.log('openai-node client: plain, streamed and failed generations and an edit as expected');
