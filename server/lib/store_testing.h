/* store_testing: hooks for the tests alone, never included by dnsbld or
 * dnsblctl: the defaults store_options_default hands out in this process,
 * and a fault injected into the steps of a write transaction. Nothing
 * here allocates; the hooks change process-wide or per-store state. */
#ifndef DNSBL_STORE_TESTING_H
#define DNSBL_STORE_TESTING_H

#include "store.h"

/* From now on store_options_default (and so store_open) gives *o in this
 * process; NULL restores the built-in defaults. Not thread-safe: call it
 * before the stores it is meant for are opened. */
void store_testing_defaults(const struct store_options *o);

/* The nth step (1-based) of the write transactions of s from now on
 * fails as a disk error would (EIO); 0 turns the fault off. Counts down
 * across transactions until it fires, once. */
void store_testing_fail_step(struct store *s, unsigned nth);

/* store_undo handles per_txn undo records per write transaction on s
 * (0: the default), so a test sees an undo of a few records in batches. */
void store_testing_undo_batch(struct store *s, size_t per_txn);

#endif
