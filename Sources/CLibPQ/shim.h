// PostgreSQL's client library (Debian's libpq-dev), for the baseline of `make bench-e2e` only.
#include <libpq-fe.h>
