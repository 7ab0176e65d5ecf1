/* fuzz_fixture: the world the query-path fuzz targets answer from -- a
 * small fixed store in a temporary LMDB directory and two zones, one from
 * a zone file and one synthesised -- made on first use and removed at
 * exit. The fixture owns everything in the packet_ctx it hands out; a
 * target only begins and ends its reader around each input. */
#ifndef DNSBL_FUZZ_FIXTURE_H
#define DNSBL_FUZZ_FIXTURE_H

#include "packet.h"

/* The context to answer with (ctx->reader not yet begun); aborts when
 * the fixture cannot be made. The client is 127.0.0.1: bl.example allows
 * it zone transfers, v6.bl.example too when signed with fz_fixture_key. */
struct packet_ctx *fz_fixture(void);

/* The fixture's store (never published: transfers answer SERVFAIL), for
 * xfr_begin. */
struct store *fz_fixture_store(void);

#endif
