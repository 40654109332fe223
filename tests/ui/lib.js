// Shared helpers of the browser scripts (build_workflows.js, ui_suite.js): start Debian's chromium through
// playwright-core, open ComfyUI's front end, collect console and page errors, tell benign ones apart.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const builder = require('./graph_builder');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];

// Console errors of the stock front end (1.32.9 on ComfyUI 0.3.75, fresh user dir, no templates package, no
// network) that say nothing about this pack. Everything else fails the tests.
const BENIGN = [
  // files a fresh user directory does not have (user.css, saved workflows/subgraphs, the template order file)
  { why: 'absent user files', rx: /status of 404 .*"url":"[^"]*\/(api\/userdata\/user\.css|user\.css|favicon\.ico|api\/userdata\?dir=(workflows|subgraphs)[^"]*|api\/userdata\/comfy\.templates\.json)"/ },
  // the core template index: the comfyui-workflow-templates package (~93 MB of media) is not installed in CI
  { why: 'core templates not installed', rx: /status of 404 .*"url":"[^"]*\/templates\/index(\.[a-z-]+)?\.json"/ },
  { why: 'core templates not installed', rx: /^console: Error loading core workflow templates: AxiosError/ },
  // front-end start-up bug, also without any custom node: a settings watcher reads `.id` of no workflow yet
  { why: 'front-end start-up bug', rx: /^console: TypeError: Cannot read properties of undefined \(reading 'id'\)\n\s+at onChange / },
  // the front end looks nodes up in Comfy's online registry; the page's CSP blocks it (no network wanted anyway)
  { why: 'registry look-up blocked by CSP', rx: /^console: Connecting to 'https:\/\/api\.comfy\.org\/[^']*' violates the following Content Security Policy/ },
];

const unexpected = errors => errors.filter(e => !BENIGN.some(b => b.rx.test(e)));

function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  throw new Error('chromium not found: apt-get install chromium (or set CHROMIUM_PATH)');
}

async function launch({ width = 1600, height = 1000 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'foley-ui-profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(), headless: true, viewport: { width, height }, args: CHROMIUM_ARGS,
  });
  const close = async () => {
    try { await ctx.close(); } finally { fs.rmSync(profile, { recursive: true, force: true }); }
  };
  return { ctx, close };
}

// Open the front end in a new page and wait for the graph, the canvas and the pack's nodes; `errors` collects
// console errors and page errors from the start. The page also gets window.__fb (graph_builder.js) and records
// the missing-nodes / missing-models warnings and the prompts queued.
async function openComfy(ctx, baseUrl, readyNode = 'FoleySampler') {
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()} @ ${JSON.stringify(m.location())}`); });
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`));
  const templateResponses = [];   // what the template browser fetched from the packs' workflow folders
  page.on('response', r => {
    if (r.url().includes('/api/workflow_templates')) {
      templateResponses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] || '' });
    }
  });
  await page.goto(baseUrl.replace(/\/?$/, '/'), { waitUntil: 'domcontentloaded', timeout: 60000 });
  await page.waitForFunction(t => window.app && window.app.graph && window.app.canvas && window.LiteGraph
    && window.LiteGraph.registered_node_types[t], readyNode, { timeout: 90000 });
  await page.waitForTimeout(500);
  const fns = Object.values(builder).map(String).join('\n');
  await page.evaluate(`window.__fb = (() => { ${fns}; return { ${Object.keys(builder).join(', ')} }; })();`);
  await page.evaluate(() => {
    const { app } = window;
    const seen = window.__seen = { missingNodes: [], missingModels: [], queued: [], queueErrors: [], events: [] };
    const nodesWarn = app.showMissingNodesError.bind(app), modelsWarn = app.showMissingModelsError.bind(app);
    app.showMissingNodesError = (types, ...a) => { seen.missingNodes.push(types.map(t => t.type || t)); return nodesWarn(types, ...a); };
    app.showMissingModelsError = (models, ...a) => {
      seen.missingModels.push(models.map(m => ({ name: m.name, directory: m.directory, url: m.url })));
      return modelsWarn(models, ...a);
    };
    const api = app.api, queue = api.queuePrompt.bind(api);
    api.queuePrompt = async (...a) => {
      try {
        const r = await queue(...a);
        seen.queued.push(r);
        return r;
      } catch (e) {
        seen.queueErrors.push({ message: String(e), response: e.response || null });
        throw e;
      }
    };
    for (const type of ['execution_start', 'execution_success', 'execution_error', 'execution_interrupted', 'executed']) {
      api.addEventListener(type, ev => seen.events.push({ type, data: ev.detail }));
    }
  });
  return { page, errors, templateResponses };
}

// Hide the front end's chrome (menus, side bar, run bar, minimap, toasts) so that only the canvas shows.
async function hideChrome(page, hide = true) {
  await page.evaluate(h => {
    let style = document.getElementById('__foley_hide_chrome');
    if (!style) {
      style = document.createElement('style');
      style.id = '__foley_hide_chrome';
      style.textContent = '.splitter-overlay-root, .p-toast { display: none !important; }';
      document.head.appendChild(style);
    }
    style.disabled = !h;
  }, hide);
}

// Screenshot (PNG buffer) -> JPEG buffer `width` pixels wide, scaled in the page's own canvas.
async function toJpeg(page, png, width, quality = 0.82) {
  const b64 = await page.evaluate(async ({ data, width, quality }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = width;
    c.height = Math.round(img.height * width / img.width);
    const g = c.getContext('2d');
    g.imageSmoothingQuality = 'high';
    g.drawImage(img, 0, 0, c.width, c.height);
    return c.toDataURL('image/jpeg', quality).split(',')[1];
  }, { data: png.toString('base64'), width, quality });
  return Buffer.from(b64, 'base64');
}

module.exports = { launch, openComfy, hideChrome, toJpeg, unexpected, BENIGN, CHROMIUM_ARGS };
