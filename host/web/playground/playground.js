// The fluxserve playground: submits background jobs, follows their event stream (progress,
// previews, the image), cancels them, and lists this browser session's jobs. Plain browser
// JavaScript served by the host: no build step, nothing from a CDN.
'use strict';

const $ = (id) => document.getElementById(id);
const JOBS = '/v1/images/generations';
const ENDED = ['succeeded', 'failed', 'cancelled'];
let current = null; // {id, abort: AbortController}

function authHeaders(json) {
  const headers = {};
  const key = $('apikey').value;
  if (key) headers.Authorization = `Bearer ${key}`;
  if (json) headers['Content-Type'] = 'application/json';
  return headers;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function showError(text) {
  $('error').textContent = text;
}

async function loadModels() {
  const response = await fetch('/v1/models', { headers: authHeaders() });
  if (!response.ok) return showError(await errorText(response));
  const body = await response.json();
  $('model').replaceChildren(...body.data.map((model) => new Option(model.id, model.id)));
}

function requestBody() {
  const body = {
    prompt: $('prompt').value,
    model: $('model').value || undefined,
    background: true,
    partial_images: Number($('partial').value || 0),
  };
  if ($('size').value.trim()) body.size = $('size').value.trim();
  if ($('steps').value) body.steps = Number($('steps').value);
  if ($('seed').value) body.seed = Number($('seed').value);
  return body;
}

async function submit(event) {
  event.preventDefault();
  showError('');
  const response = await fetch(JOBS, {
    method: 'POST',
    headers: authHeaders(true),
    body: JSON.stringify(requestBody()),
  });
  if (response.status !== 202) return showError(await errorText(response));
  const job = await response.json();
  remember(job.id);
  follow(job);
}

async function cancel() {
  if (!current) return;
  const response = await fetch(`${JOBS}/${current.id}/cancel`, {
    method: 'POST',
    headers: authHeaders(),
  });
  if (!response.ok) showError(await errorText(response));
}

function showStatus(job) {
  $('current').dataset.status = job.status;
  $('status').textContent = job.status;
  $('position').textContent = job.queue_position ? `#${job.queue_position} in the queue` : '';
  $('eta').textContent = job.eta_seconds != null ? `about ${job.eta_seconds.toFixed(1)} s left` : '';
  $('cancel').disabled = ENDED.includes(job.status);
}

// Shows `job` and follows its events until it ends (or another job is followed).
function follow(job) {
  if (current) current.abort.abort();
  current = { id: job.id, abort: new AbortController() };
  $('current').hidden = false;
  $('current').dataset.job = job.id;
  $('current').dataset.step = '0';
  $('preview').removeAttribute('src');
  $('result').removeAttribute('src');
  $('details').textContent = '';
  $('progress').value = 0;
  showStatus(job);
  followEvents(job.id, current.abort.signal).catch((error) => {
    if (error.name !== 'AbortError') showError(String(error));
  });
}

// Reads GET .../{id}/events with fetch (EventSource cannot send the API key).
async function followEvents(id, signal) {
  const response = await fetch(`${JOBS}/${id}/events`, { headers: authHeaders(), signal });
  if (!response.ok) return showError(await errorText(response));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      handleEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
  await refresh(id);
}

function handleEvent(block) {
  let name = '';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return;
  const event = JSON.parse(data);
  const source = (e) => `data:image/${e.output_format || 'png'};base64,${e.b64_json}`;
  if (name === 'image_generation.progress') {
    $('progress').max = event.steps;
    $('progress').value = event.step;
    $('current').dataset.status = 'running';
    $('current').dataset.step = String(event.step);
    $('status').textContent = `running: step ${event.step} of ${event.steps}`;
    $('position').textContent = '';
    $('eta').textContent =
      event.eta_seconds != null ? `about ${event.eta_seconds.toFixed(1)} s left` : '';
  } else if (name === 'image_generation.partial_image') {
    $('preview').src = source(event);
    $('preview').dataset.index = String(event.partial_image_index);
  } else if (name === 'image_generation.completed') {
    $('result').src = source(event);
  } else if (name === 'error') {
    showError(event.error.message);
  }
}

// The job's final state: status, seed, parameters and timings.
async function refresh(id) {
  const response = await fetch(`${JOBS}/${id}`, { headers: authHeaders() });
  if (!response.ok) return showError(await errorText(response));
  const job = await response.json();
  showStatus(job);
  if (job.status === 'succeeded') {
    const seeds = job.data.map((image) => image.seed);
    $('details').textContent = JSON.stringify(
      { seed: seeds.length === 1 ? seeds[0] : seeds, parameters: job.parameters, timings: job.timings },
      null,
      2,
    );
  }
  renderHistory();
}

// This browser session's jobs, newest first (sessionStorage).
function sessionJobs() {
  try {
    return JSON.parse(sessionStorage.getItem('fluxserve.jobs') || '[]');
  } catch {
    return [];
  }
}

function remember(id) {
  sessionStorage.setItem('fluxserve.jobs', JSON.stringify([id, ...sessionJobs()].slice(0, 50)));
  renderHistory();
}

async function renderHistory() {
  const jobs = await Promise.all(
    sessionJobs().map(async (id) => {
      const response = await fetch(`${JOBS}/${id}`, { headers: authHeaders() });
      return response.ok ? response.json() : { id, status: 'expired' };
    }),
  );
  $('history').replaceChildren(
    ...jobs.map((job) => {
      const item = document.createElement('li');
      item.textContent = `${job.id}: ${job.status}`;
      item.dataset.status = job.status;
      item.addEventListener('click', () => follow(job));
      return item;
    }),
  );
}

$('apikey').value = sessionStorage.getItem('fluxserve.apikey') || '';
$('apikey').addEventListener('change', () => {
  sessionStorage.setItem('fluxserve.apikey', $('apikey').value);
  loadModels();
});
$('form').addEventListener('submit', submit);
$('cancel').addEventListener('click', cancel);
loadModels().then(renderHistory);
