/* store_fixture: the teardown the packet tests share -- a reader, its
 * store, the zones and the fixture's scratch directory, all freed or
 * removed here. Header-only; include after cmocka.h, store.h and zone.h. */
#ifndef DNSBL_TEST_STORE_FIXTURE_H
#define DNSBL_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static inline void store_fixture_release(struct store_reader *reader, struct store *store,
                                         struct zoneset *zones, const char *dir)
{
    char cmd[160];
    store_reader_close(reader);
    store_close(store);
    zoneset_free(zones);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
