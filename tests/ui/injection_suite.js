// The browser half of tests/test_ui_injection.py: hands the candidates view of a FoleySelectBest node a payload
// whose every field carries markup (as a hand-made scores dict in an API prompt would) and writes what the page
// parsed.
//
//     node tests/ui/injection_suite.js BASE_URL RESULTS.json SCREENSHOT.png
'use strict';
const fs = require('fs');
const { runProbe } = require('./lib');

const MARKUP = '<img src=x onerror="window.__injected=1"><b class="injected">bold</b><script>window.__injected=2</script>';

(async () => {
  const [base, outPath, shot] = process.argv.slice(2);
  await runProbe(base, outPath, { width: 1400, height: 900 }, async (page, results) => {
    Object.assign(results, await page.evaluate(async markup => {
      const node = window.LiteGraph.createNode('FoleySelectBest');
      window.app.graph.add(node);
      const file = { filename: `a${markup}.png`, subfolder: markup, type: 'temp' };
      const candidate = i => ({ index: `${i}${markup}`, desync: markup, offset: markup, clap: markup,
        spectrogram: file, audio: file });
      node.onExecuted({ foley_candidates: [{ candidates: [candidate(0), candidate(1)], best: markup, selected: markup,
        seconds: markup, start_time: markup, video: null, seeds: [{ node: markup, class_type: markup, input: markup,
          value: markup }] }] });
      await new Promise(r => setTimeout(r, 1500));
      const root = document.querySelector('.foley-candidates');
      return {
        rendered: !!root,
        labels: [...document.querySelectorAll('.foley-candidates .foley-label')].map(e => e.textContent),
        parsed: root ? root.querySelectorAll('b.injected, script, img[onerror]').length : null,
        injected: window.__injected ?? null,
      };
    }, MARKUP));
    await page.screenshot({ path: shot });
  });
})().catch(e => { console.error(e); process.exit(2); });
