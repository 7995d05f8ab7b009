/** The run manifest: for every input file, the tool, the target (with what was probed) and everything that could change the numbers. */
import type { LoadedResults } from '../compare.js';
import { fmtValue, kvTable } from './benchmark.js';
import { html, type Raw } from './escape.js';

export function renderManifest(files: LoadedResults[]): Raw {
  const rows = files.map((f) => {
    const r = f.results;
    const what = r.kind === 'conformance'
      ? `${r.conformance?.tests.length ?? 0} tests (${r.conformance?.specVersions.join(', ') ?? ''})`
      : r.kind === 'selftest'
        ? `suite self-check: ${r.selftest?.score.caught ?? 0} of ${r.selftest?.score.faults ?? 0} faults caught (${r.selftest?.mode ?? ''})`
        : `${r.benchmark?.scenario ?? ''} on ${r.benchmark?.deviceProfile.name ?? ''}: ${r.benchmark?.runs.length ?? 0} runs`;
    return html`<tr><td class="mono small">${f.source}</td><td>${r.kind}</td><td>${r.target?.name ?? '–'}</td><td class="small">${r.target?.url ?? ''}</td><td>${what}</td><td class="small">${r.createdAt}</td><td class="small">${r.tool.name} ${r.tool.version}, Node ${r.tool.node}, ${r.tool.platform}, ${r.tool.cpu} × ${r.tool.cores}</td></tr>`;
  });
  const details = files.map((f) => {
    const r = f.results;
    const probed = Object.entries(r.target?.probed ?? {});
    return html`<details><summary class="mono small">${f.source}</summary>
${r.target ? html`<p class="small">profile <strong>${r.target.profile.name}</strong> from <span class="mono">${r.target.profile.source}</span></p>` : ''}
${probed.length ? html`<table class="data"><caption class="small muted">capabilities probed (the profile left them out)</caption><thead><tr><th>capability</th><th>value</th><th>how</th></tr></thead><tbody>${probed.map(([k, v]) => html`<tr><td class="mono">${k}</td><td>${fmtValue(v.value)}</td><td class="small">${v.how}</td></tr>`)}</tbody></table>` : ''}
${r.manifest && Object.keys(r.manifest).length ? kvTable(r.manifest, 'manifest: seeds, settings, versions') : html`<p class="muted small">No manifest in this file.</p>`}
</details>`;
  });
  return html`<table class="data manifest"><thead><tr><th>file</th><th>kind</th><th>target</th><th>url</th><th>content</th><th>created</th><th>tool</th></tr></thead><tbody>${rows}</tbody></table>${details}`;
}
