// The official OpenAI Node client (npm `openai`, pinned in package-lock.json) against `sdr serve`,
// unchanged but for its base URL: models.list, images.generate (b64_json), the streamed
// variant (stream: true) with its image_generation.* events, and images.edit (multipart). Run by ctest (openai_node_client_test)
// as `node openai_client_test.mjs http://127.0.0.1:PORT [API_KEY]`; exits non-zero on any failure.
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';

const [serverUrl, apiKey = 'unused-by-the-server'] = process.argv.slice(2);
assert.ok(serverUrl, 'usage: node openai_client_test.mjs http://HOST:PORT [API_KEY]');
const baseURL = `${serverUrl}/v1`;  // the one thing changed from a client of api.openai.com
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });

// A PNG's width and height from its IHDR chunk (after checking the signature).
function pngSize(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

const models = await client.models.list();
const ids = [];
for await (const m of models) ids.push(m.id);
assert.ok(ids.length >= 1, 'models.list returns the served model');

// Our extensions (steps) travel as extra body fields, as any OpenAI-compatible server's would.
const image = await client.images.generate({
  model: ids[0], prompt: 'a lighthouse at dusk', n: 1, size: '64x64', response_format: 'b64_json', steps: 2,
});
assert.equal(image.data.length, 1);
assert.deepEqual(pngSize(Buffer.from(image.data[0].b64_json, 'base64')), [64, 64]);
assert.ok(image.created > 1_600_000_000, 'created is a unix time');

// images.edit: the client's multipart upload of a PNG (the image just made), extensions as form fields.
const edited = await client.images.edit({
  model: ids[0], prompt: 'the lighthouse in snow', n: 1, size: '64x64', response_format: 'b64_json', steps: 2,
  image: await toFile(Buffer.from(image.data[0].b64_json, 'base64'), 'lighthouse.png', { type: 'image/png' }),
});
assert.equal(edited.data.length, 1);
assert.deepEqual(pngSize(Buffer.from(edited.data[0].b64_json, 'base64')), [64, 64]);
await assert.rejects(client.images.edit({
  prompt: 'x', image: await toFile(Buffer.from('not a png'), 'x.png', { type: 'image/png' }),
}), (err) => {
  assert.equal(err.status, 400);
  assert.match(err.message, /image/);
  return true;
});

const stream = await client.images.generate({
  model: ids[0], prompt: 'a lighthouse at dawn', size: '64x64', stream: true, partial_images: 1, steps: 4,
});
const types = [];
for await (const event of stream) {
  types.push(event.type);
  if (event.type === 'image_generation.completed') {
    assert.deepEqual(pngSize(Buffer.from(event.b64_json, 'base64')), [64, 64]);
  }
}
assert.equal(types.at(-1), 'image_generation.completed', `stream ends completed: ${types}`);

// An error reaches the client as its typed APIError with our message and status.
await assert.rejects(client.images.generate({ prompt: 'x', size: '65x64' }), (err) => {
  assert.equal(err.status, 400);
  assert.match(err.message, /size/);
  return true;
});
console.log(`ok: models ${ids.join(',')}; events ${types.join(',')}`);
