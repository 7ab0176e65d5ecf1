/* fuzz_fixture: the world the query-path fuzz targets answer from -- a
 * small fixed store in a temporary LMDB directory and two zones, one from
 * a zone file and one synthesised -- made on first use and removed at
 * exit. The fixture owns everything in the packet_ctx it hands out; a
 * target only begins and ends its reader around each input. */
#ifndef DNSBL_FUZZ_FIXTURE_H
#define DNSBL_FUZZ_FIXTURE_H

#include "packet.h"

/* The context to answer with (ctx->reader not yet begun); aborts when
 * the fixture cannot be made. */
struct packet_ctx *fz_fixture(void);

#endif
