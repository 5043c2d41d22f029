#ifndef CJEMALLOC_H
#define CJEMALLOC_H
// ledgerd's allocator: Debian's libjemalloc, linked into the daemon so that it replaces glibc's
// malloc for the whole process (Swift, NIO, LMDB and zstd alike). Nothing here is called from Swift;
// the one definition, jemalloc's compiled-in options, is in malloc_conf.c.
extern const char *malloc_conf;
#endif
