/**
 * A one-line progress bar on stderr for long CLI runs: redrawn in place on a terminal, a line per
 * tenth otherwise (so CI logs stay readable).
 */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let lastTenth = -1;
  let lastDraw = 0;
  const draw = (done: number, final = false) => {
    const ratio = total ? Math.min(1, done / total) : 1;
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    const text = `${label} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.round(ratio * 100)}%) ${Math.round(rate).toLocaleString('en-US')}/s`;
    if (stream.isTTY) {
      if (!final && Date.now() - lastDraw < 100) return;
      lastDraw = Date.now();
      const width = 30;
      const bar = '█'.repeat(Math.round(ratio * width)).padEnd(width, '░');
      stream.write(`\r${bar} ${text}${final ? '\n' : ''}`);
    } else {
      const tenth = Math.floor(ratio * 10);
      if (tenth > lastTenth || final) {
        lastTenth = tenth;
        stream.write(`${text}\n`);
      }
    }
  };
  return { update: (done: number) => draw(done), done: (done: number) => draw(done, true) };
}
