#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H
// Only SHA-256's context functions, which hash on a caller's stack context without allocating.
// OpenSSL 3 marks them deprecated in favour of EVP, whose per-hash dispatch is what the log avoids.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#endif
