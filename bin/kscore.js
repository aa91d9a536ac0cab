#!/usr/bin/env node
// The kscore command. From a clone it runs the TypeScript sources through tsx (a dev dependency);
// where only production dependencies are installed (the image), the compiled dist/.
// UV_THREADPOOL_SIZE (the librdkafka adapter wants 16: each waiting consume holds a pool thread) cannot be
// raised here: Node's ESM loader reads this very file through the libuv pool, which reads the variable when it
// starts (measured on Node 20). It must come from the environment (the image sets it).
let tsx;
try {
  tsx = await import('tsx/esm/api');
} catch {
  tsx = undefined;
}
if (tsx === undefined) {
  await import('../dist/cli/main.js');
} else {
  tsx.register();
  await import('../src/cli/main.ts');
}
