// The browser half of tests/test_ui_models.py: opens a workflow in ComfyUI's front end on a server whose model
// folders are empty and writes what the front end reports about the missing model files.
//
//     node tests/ui/models_suite.js BASE_URL WORKFLOW.json NAMES(comma-separated) RESULTS.json SCREENSHOT.png
//
// RESULTS: { version, warned (front ends up to 1.3x: what app.showMissingModelsError got), dialogs (their text),
//            rows: { name: { text, download } } (per file name: the smallest element naming it, its text and
//            whether it holds a Download action), errors }
'use strict';
const fs = require('fs');
const { runProbe } = require('./lib');

(async () => {
  const [base, workflowPath, names, outPath, shot] = process.argv.slice(2);
  await runProbe(base, outPath, { width: 1600, height: 1000 }, async (page, results) => {
    await page.waitForTimeout(1000);
    results.version = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__ ?? null);
    await page.evaluate(() => {
      window.__warned = [];
      const warn = window.app.showMissingModelsError?.bind(window.app);
      if (warn) {
        window.app.showMissingModelsError = (models, ...a) => {
          window.__warned.push(models.map(m => ({ name: m.name, directory: m.directory, url: m.url })));
          return warn(models, ...a);
        };
      }
    });
    const workflow = JSON.parse(fs.readFileSync(workflowPath, 'utf8'));
    await page.evaluate(w => window.app.loadGraphData(w, true, true, 'missing_models'), workflow);
    await page.waitForTimeout(4000);
    // newer front ends show an error overlay whose details list the missing models
    const details = page.getByText('View details', { exact: true });
    if (await details.count()) {
      await details.first().click();
      await page.waitForTimeout(1500);
    }
    await page.screenshot({ path: shot });
    Object.assign(results, await page.evaluate(list => {
      const visible = e => e.getBoundingClientRect().width > 0;
      const rows = {};
      for (const name of list) {
        const holders = [...document.querySelectorAll('body *')]
          .filter(e => visible(e) && e.innerText && e.innerText.includes(name) && !e.closest('canvas'));
        // the smallest element that names this file only and holds a Download action (else the smallest naming it)
        const isDownload = b => /download/i.test(b.innerText || b.title || '');
        const withAction = holders.filter(e => [...e.querySelectorAll('button, a')].some(isDownload));
        const pick = list => list.sort((a, b) => a.innerText.length - b.innerText.length)[0];
        const row = pick(withAction.filter(e => e.innerText.split(/\.pth|\.safetensors/).length <= 2)) ?? pick(holders);
        rows[name] = row ? { text: row.innerText.trim().slice(0, 300),
          download: [...row.querySelectorAll('button, a')].some(isDownload) } : null;
      }
      return {
        warned: window.__warned,
        dialogs: [...document.querySelectorAll('.p-dialog')].filter(visible).map(d => d.innerText.trim().slice(0, 2000)),
        rows,
      };
    }, names.split(',')));
  });
})().catch(e => { console.error(e); process.exit(2); });
