// sdruntime web page: a client of the public API (README, `sdr serve`), nothing private.
//   GET  /v1/capabilities          -> the form's lists, defaults and limits
//   POST /v1/jobs                  -> 202 {id, status, queue_position}
//   GET  /v1/jobs/{id}/events      -> server-sent events: queued, started, step, completed, failed, cancelled
//   DELETE /v1/jobs/{id}           -> cancel queued or running work
// The events are read with fetch() rather than EventSource, which cannot send the Authorization
// header. With an API key, the page asks for it once (on a 401) and keeps it in sessionStorage.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const KEY_STORAGE = 'sdr.apiKey';
const FALLBACK_SIZES = [[512, 512], [768, 768], [1024, 1024], [512, 768], [768, 512], [832, 1216], [1216, 832]];

const state = {
  caps: null,
  lastSeed: null,
  results: [],  // this tab's images, oldest first: {jobId, index, seed, width, height, infotext, blobUrl, params, seconds}
};

// ---- HTTP -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// The server's message from any of its error shapes (OpenAI's {error: {message}}, A1111's {detail}).
function errorMessage(status, body, fallbackText) {
  if (body && typeof body === 'object') {
    if (body.error && typeof body.error === 'object' && body.error.message) return body.error.message;
    if (typeof body.detail === 'string') return body.detail;
    if (typeof body.error === 'string') return body.error;
  }
  return fallbackText || `HTTP ${status}`;
}

// fetch with the key; on 401 asks for a key once and retries. Returns the Response when ok,
// throws ApiError (the server's message) otherwise.
async function api(path, options = {}, retried = false) {
  const headers = { ...(options.headers || {}), ...authHeaders() };
  let res;
  try {
    res = await fetch(path, { ...options, headers });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`, null);
  }
  if (res.ok) return res;
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: the text is the message */ }
  const message = errorMessage(res.status, body, text.trim().slice(0, 500));
  if (res.status === 401 && !retried && await askForKey(message)) return api(path, options, true);
  if (res.status === 429) {
    const after = res.headers.get('Retry-After');
    throw new ApiError(429, after ? `${message} (try again in ${after} s)` : message, body);
  }
  throw new ApiError(res.status, message, body);
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// ---- API key dialog ---------------------------------------------------------------------------

let keyPrompt = null;  // one dialog at a time; concurrent 401s wait for the same answer
function askForKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = $('#key-dialog');
  $('#key-reason').textContent = `${reason}. The key is kept in this tab only (sessionStorage).`;
  $('#key-input').value = '';
  keyPrompt = new Promise((resolve) => {
    const form = $('#key-form');
    const finish = (ok) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      keyPrompt = null;
      resolve(ok);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const ok = e.submitter && e.submitter.value === 'ok' && $('#key-input').value.trim() !== '';
      if (ok) sessionStorage.setItem(KEY_STORAGE, $('#key-input').value.trim());
      $('#key-button').hidden = false;
      finish(ok);
    };
    const onCancel = () => finish(false);
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
  });
  return keyPrompt;
}

// ---- the form ---------------------------------------------------------------------------------

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

function fillSelect(select, items, selected) {
  select.replaceChildren(...items.map(([v, t]) => option(v, t)));
  if (selected != null) select.value = selected;
}

function setSize(w, h) {
  $('#width').value = w;
  $('#height').value = h;
  syncPreset();
}

// The preset that matches W x H, else "custom".
function syncPreset() {
  const v = `${$('#width').value}x${$('#height').value}`;
  const sel = $('#size');
  sel.value = [...sel.options].some((o) => o.value === v) ? v : 'custom';
}

function applyCapabilities(caps) {
  state.caps = caps;
  const d = caps.defaults || {};
  const l = caps.limits || {};
  $('#model').textContent = `${caps.model || 'model'} · ${caps.provider}` +
      (l.max_queue != null ? ` · queue ${l.max_queue}` : '');
  if (caps.api_key_required) $('#key-button').hidden = false;

  let sizes = (l.sizes && l.sizes.length) ? l.sizes : FALLBACK_SIZES;
  sizes = sizes.filter(([w, h]) => (!l.min_side || Math.min(w, h) >= l.min_side) && (!l.max_side || Math.max(w, h) <= l.max_side));
  if (d.width && d.height && !sizes.some(([w, h]) => w === d.width && h === d.height)) sizes = [[d.width, d.height], ...sizes];
  fillSelect($('#size'), [...sizes.map(([w, h]) => [`${w}x${h}`, `${w} × ${h}`]), ['custom', 'Custom']]);
  for (const id of ['width', 'height']) {
    if (l.min_side) $(`#${id}`).min = l.min_side;
    if (l.max_side) $(`#${id}`).max = l.max_side;
    $(`#${id}`).step = l.side_multiple || 8;
  }
  if (l.max_steps) $('#steps').max = l.max_steps;
  if (l.max_n) $('#n').max = l.max_n;
  setSize(d.width || 512, d.height || 512);

  const engine = caps.engine_settings !== false;
  for (const id of ['steps', 'cfg_scale', 'sampler', 'scheduler', 'negative_prompt']) $(`#${id}`).disabled = !engine;
  fillSelect($('#sampler'), (caps.samplers || []).map((s) => [s.name, s.a1111_name || s.name]), d.sampler);
  fillSelect($('#scheduler'), (caps.schedulers || []).map((s) => [s.name, s.a1111_name || s.name]), d.scheduler);
  if (d.steps) $('#steps').value = d.steps;
  if (d.cfg_scale != null) $('#cfg_scale').value = d.cfg_scale;
  if (d.negative_prompt) $('#negative_prompt').value = d.negative_prompt;
}

function showFormError(message) {
  const box = $('#form-error');
  box.textContent = message;
  box.hidden = !message;
}

function intValue(id) {
  const v = $(`#${id}`).value.trim();
  return v === '' ? undefined : Number(v);
}

// The POST /v1/jobs body from the form. Values go to the server as typed: it validates each field
// and names it in its 400, which the page shows.
function requestBody() {
  const body = { prompt: $('#prompt').value, n: intValue('n') ?? 1, width: intValue('width'), height: intValue('height') };
  if (state.caps?.engine_settings !== false) {
    body.negative_prompt = $('#negative_prompt').value;
    body.steps = intValue('steps');
    body.cfg_scale = intValue('cfg_scale');
    if ($('#sampler').value) body.sampler = $('#sampler').value;
    if ($('#scheduler').value) body.scheduler = $('#scheduler').value;
  }
  if (!$('#seed-random').checked && $('#seed').value.trim() !== '') body.seed = intValue('seed');
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

function setSeedRandom(random) {
  $('#seed-random').checked = random;
  $('#seed').disabled = random;
  $('#seed').placeholder = random ? 'random' : '';
}

// Fills the form from a result's request (its own seed, not random).
function sendToForm(r) {
  const p = r.params;
  $('#prompt').value = p.prompt ?? '';
  $('#negative_prompt').value = p.negative_prompt ?? '';
  setSize(r.width, r.height);
  if (p.steps) $('#steps').value = p.steps;
  if (p.cfg_scale != null) $('#cfg_scale').value = p.cfg_scale;
  if (p.sampler) $('#sampler').value = p.sampler;
  if (p.scheduler) $('#scheduler').value = p.scheduler;
  setSeedRandom(false);
  $('#seed').value = r.seed;
  $('#form').scrollIntoView({ behavior: 'smooth', block: 'start' });
  $('#prompt').focus({ preventScroll: true });
  toast('Parameters sent to the form');
}

async function submit() {
  showFormError('');
  const body = requestBody();
  const button = $('#generate');
  button.disabled = true;
  try {
    const job = await apiJson('/v1/jobs', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    new JobView(job, body).follow();
  } catch (err) {
    showFormError(err.message);
  } finally {
    button.disabled = false;
  }
}

// ---- one job: its card, its event stream ------------------------------------------------------

function formatSeconds(s) {
  if (s == null || s < 0 || !Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// Server-sent events from a fetch() body: yields {event, data, id} per event.
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ev = { event: 'message', data: [], id: null };
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') ev.event = val;
        else if (field === 'data') ev.data.push(val);
        else if (field === 'id') ev.id = val;
      }
      if (ev.data.length) yield { event: ev.event, data: ev.data.join('\n'), id: ev.id };
    }
  }
}

class JobView {
  constructor(job, params) {
    this.id = job.id;
    this.params = params;
    this.lastEventId = null;
    this.finished = false;
    this.el = $('#job-template').content.firstElementChild.cloneNode(true);
    this.el.dataset.jobId = job.id;
    this.el.dataset.state = job.status;
    $('.job-title', this.el).textContent = params.prompt || '(empty prompt)';
    $('.job-title', this.el).title = params.prompt || '';
    $('.cancel', this.el).addEventListener('click', () => this.cancel());
    $('#jobs').prepend(this.el);
    this.onQueued({ queue_position: job.queue_position });
  }

  setStatus(text) { $('.job-status', this.el).textContent = text; }

  onQueued(e) {
    this.el.dataset.state = 'queued';
    const pos = e.queue_position;
    this.setStatus(pos > 0 ? `Queued: position ${pos}${e.queue_length ? ` of ${e.queue_length}` : ''}` : 'Waiting to start…');
    $('.job-bar', this.el).removeAttribute('value');  // indeterminate while waiting
  }

  onStarted(e) {
    this.el.dataset.state = 'running';
    this.setStatus(`Running${e.steps ? `: ${e.steps} steps` : ''}${e.n > 1 ? ` × ${e.n} images` : ''}`);
    $('.job-bar', this.el).value = 0;
  }

  onStep(e) {
    this.lastStep = e;
    this.el.dataset.state = 'running';
    const bar = $('.job-bar', this.el);
    bar.value = e.progress ?? 0;
    bar.dataset.step = e.step;
    const image = e.n > 1 ? `image ${e.image + 1}/${e.n} · ` : '';
    this.setStatus(`${image}step ${e.step}/${e.total_steps}`);
    $('.job-times', this.el).textContent =
        `elapsed ${formatSeconds(e.elapsed_s)} · ETA ${e.eta_s < 0 ? '–' : formatSeconds(e.eta_s)} · ${Math.round((e.progress ?? 0) * 100)}%`;
    if (e.preview) {
      const img = $('.job-preview', this.el);
      img.src = e.preview;
      // "taesd": the image-sized TAESD decode; "latent": the latent-sized projection (drawn pixelated).
      img.dataset.kind = e.preview_kind || 'latent';
      img.title = img.dataset.kind === 'taesd' ? 'TAESD preview' : 'Latent preview';
      img.hidden = false;
    }
  }

  onCompleted(e) {
    this.finish('succeeded', `Done in ${formatSeconds(e.seconds)}`);
    const images = e.images || [];
    for (const img of images) addResult(this, img, e.seconds);
    // The card has done its work: the images are in the gallery.
    setTimeout(() => this.el.remove(), 1500);
  }

  onEnded(kind, e) {
    const message = (e.error && e.error.message) || kind;
    this.finish(kind, kind === 'cancelled' ? `Cancelled: ${message}` : `Failed: ${message}`);
    if (kind === 'failed') showFormError(message);
    const close = $('.cancel', this.el);
    close.textContent = 'Dismiss';
    close.disabled = false;
    close.onclick = () => this.el.remove();
  }

  finish(kind, text) {
    this.finished = true;
    this.el.dataset.state = kind;
    this.el.classList.add(`done-${kind}`);
    this.setStatus(text);
    const bar = $('.job-bar', this.el);
    if (kind === 'succeeded') bar.value = 1; else if (!bar.hasAttribute('value')) bar.value = 0;
    // No ETA once it has ended: what it ran, as far as it got.
    const times = $('.job-times', this.el);
    if (this.lastStep) times.textContent = `ran ${formatSeconds(this.lastStep.elapsed_s)} · ${Math.round((this.lastStep.progress ?? 0) * 100)}%`;
    $('.cancel', this.el).disabled = true;
  }

  async cancel() {
    if (this.finished) return;
    $('.cancel', this.el).disabled = true;
    this.setStatus('Cancelling…');
    try {
      await api(`/v1/jobs/${encodeURIComponent(this.id)}`, { method: 'DELETE' });
    } catch (err) {
      $('.cancel', this.el).disabled = false;
      this.setStatus(`Cancel failed: ${err.message}`);
    }
  }

  dispatch(name, data) {
    let e;
    try { e = JSON.parse(data); } catch { return; }
    if (name === 'queued') this.onQueued(e);
    else if (name === 'started') this.onStarted(e);
    else if (name === 'step') this.onStep(e);
    else if (name === 'completed') this.onCompleted(e);
    else if (name === 'failed' || name === 'cancelled') this.onEnded(name, e);
  }

  // Reads the job's events until it ends; reconnects (Last-Event-ID) when the stream drops.
  async follow() {
    let failures = 0;
    while (!this.finished) {
      try {
        const headers = { Accept: 'text/event-stream' };
        if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
        const res = await api(`/v1/jobs/${encodeURIComponent(this.id)}/events`, { headers });
        for await (const ev of readEvents(res)) {
          if (ev.id) this.lastEventId = ev.id;
          this.dispatch(ev.event, ev.data);
          failures = 0;
        }
      } catch (err) {
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          this.onEnded('failed', { error: { message: err.message } });
          return;
        }
        if (++failures > 5) {
          this.onEnded('failed', { error: { message: `lost the event stream: ${err.message}` } });
          return;
        }
      }
      if (!this.finished) await new Promise((r) => setTimeout(r, 500 * failures));
    }
  }
}

// ---- results and gallery ----------------------------------------------------------------------

function pngBlob(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; ++i) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: 'image/png' });
}

// "Steps: 20, Sampler: Euler a, ..." (the infotext's last line) -> {Steps: "20", ...}
function infotextFields(infotext) {
  const lines = (infotext || '').split('\n');
  const out = {};
  const re = /\s*([^:,]+):\s*("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)/g;
  let m;
  while ((m = re.exec(lines[lines.length - 1] || '')) && m[0] !== '') {
    let v = m[2].trim();
    if (v.startsWith('"')) { try { v = JSON.parse(v); } catch { /* keep as written */ } }
    out[m[1].trim()] = v;
  }
  return out;
}

function addResult(job, img, seconds) {
  // The PNG exactly as the server sent it (its parameters chunk intact), kept as a blob so the
  // download still works after the server has dropped the job.
  const blobUrl = URL.createObjectURL(pngBlob(img.b64_json));
  const r = { jobId: job.id, index: img.index, seed: img.seed, width: img.width, height: img.height,
              infotext: img.infotext || '', blobUrl, params: job.params, seconds };
  state.results.push(r);
  state.lastSeed = img.seed;
  $('#seed-reuse').disabled = false;

  const el = $('#result-template').content.firstElementChild.cloneNode(true);
  el.dataset.seed = img.seed;
  const image = $('.result-image', el);
  image.src = blobUrl;
  image.width = img.width;
  image.height = img.height;
  image.alt = `Generated image: ${job.params.prompt}`;
  $('.result-link', el).href = blobUrl;

  const f = infotextFields(r.infotext);
  const facts = [
    ['Prompt', job.params.prompt],
    ['Seed', img.seed],
    ['Sampler', [f.Sampler, f['Schedule type']].filter(Boolean).join(', ') || job.params.sampler],
    ['Steps', f.Steps ?? job.params.steps],
    ['CFG', f['CFG scale'] ?? job.params.cfg_scale],
    ['Size', `${img.width} × ${img.height}`],
    ['Model hash', f['Model hash'] || '–'],
    ['Time', formatSeconds(seconds)],
  ];
  const dl = $('.result-facts', el);
  for (const [k, v] of facts) {
    if (v == null || v === '') continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dd.dataset.fact = k;
    dl.append(dt, dd);
  }
  $('.result-infotext', el).textContent = r.infotext;
  const download = $('.download', el);
  download.href = blobUrl;
  download.download = `sdr-${img.seed}-${job.id.slice(-8)}-${img.index}.png`;
  $('.copy', el).addEventListener('click', () => copyText(r.infotext));
  $('.send', el).addEventListener('click', () => sendToForm(r));

  $('#gallery').prepend(el);
  $('#gallery-empty').hidden = true;
  $('#gallery-count').textContent = `(${state.results.length})`;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = document.createElement('textarea');
    t.value = text;
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  toast('Parameters copied');
}

let toastTimer = 0;
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 2000);
}

// ---- start ------------------------------------------------------------------------------------

async function loadCapabilities() {
  try {
    applyCapabilities(await apiJson('/v1/capabilities'));
  } catch (err) {
    $('#model').textContent = 'not connected';
    showFormError(`Could not load the server's settings: ${err.message}`);
  }
}

function init() {
  const form = $('#form');
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
  });
  $('#size').addEventListener('change', () => {
    const v = $('#size').value;
    if (v !== 'custom') { const [w, h] = v.split('x'); $('#width').value = w; $('#height').value = h; }
    else $('#width').focus();
  });
  $('#width').addEventListener('input', syncPreset);
  $('#height').addEventListener('input', syncPreset);
  $('#seed-random').addEventListener('change', () => setSeedRandom($('#seed-random').checked));
  $('#seed-reuse').addEventListener('click', () => {
    if (state.lastSeed == null) return;
    setSeedRandom(false);
    $('#seed').value = state.lastSeed;
  });
  $('#key-button').addEventListener('click', async () => {
    if (await askForKey('Enter the API key of this server')) loadCapabilities();
  });
  setSeedRandom(true);
  if (sessionStorage.getItem(KEY_STORAGE)) $('#key-button').hidden = false;
  loadCapabilities();
}

init();
