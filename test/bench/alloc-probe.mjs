// Preloaded into the daemon by the footprint bench (`node --import <this file>`): how many bytes
// the JavaScript heap allocates, whatever the GC then frees. V8's GC profiler gives the heap's
// used size before and after each collection; what grew between one collection's end and the
// next one's start was allocated. Every 5 s the running total goes, one JSON line, to the file
// named by LGW_ALLOC_PROBE; the bench reads it at the edges of its window. Plain JavaScript: the
// daemon runs without tsx. Cost: one callback per GC and one line per 5 s.
import { appendFileSync } from 'node:fs';
import v8 from 'node:v8';

const file = process.env.LGW_ALLOC_PROBE;
if (file !== undefined && file !== '') {
  let profiler = new v8.GCProfiler();
  profiler.start();
  let base = v8.getHeapStatistics().used_heap_size;
  let total = 0;
  let collections = 0;
  const sample = () => {
    const data = profiler.stop();
    profiler = new v8.GCProfiler();
    profiler.start();
    for (const s of data.statistics) {
      total += s.beforeGC.heapStatistics.usedHeapSize - base;
      base = s.afterGC.heapStatistics.usedHeapSize;
      collections += 1;
    }
    const now = v8.getHeapStatistics().used_heap_size;
    total += now - base;
    base = now;
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), bytes: total, collections })}\n`);
  };
  setInterval(sample, 5000).unref();
}
