#include "CJemalloc.h"

// Read by jemalloc when the process starts (`man jemalloc`, "TUNING"); MALLOC_CONF in the
// environment still overrides it.
//
// Why jemalloc at all: with glibc's malloc, capped at two arenas to bound its memory, the writer,
// the follower, the event loops and the reader pool contended for those arenas' locks, and freeing a
// request's parsed events on another thread than the one that built them was 10-20% of the writer's
// time. The same ledgerd binary under jemalloc, alternating on one machine (BENCHMARKS.md,
// "The allocator"): batch ingest 14.7k -> 20-21k events/s, ledgerd's CPU per event 115 -> 83 us.
//
// Why these options: jemalloc keeps freed pages for reuse ("dirty") and, by default, returns them
// only after 10 s and only when the arena that freed them allocates again. A daemon that folded a
// large batch on one thread and then serves reads on others would keep that memory for ever, so a
// background thread returns it after a second (RssAnon after a 1M-event load: 121 MiB with the
// defaults, 93 MiB with these; 96 MiB under glibc).
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
