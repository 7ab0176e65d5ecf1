/* dnsblctl: the operator's tool for the dnsbld store. Shaped like LMDB's
 * mdb_stat: getopt_long, a usage per command, one message naming the step
 * that failed with the library's reason. This file holds main, the
 * command table, help and the option handling every command shares; the
 * commands live in cmd_*.c. Exit codes: 0 ok, 1 operation failed, 2 misuse. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "err.h"
#include "timeutil.h"

#ifndef DNSBL_VERSION
#define DNSBL_VERSION "0.1.0"
#endif

static int ctl_cmd_help(struct ctl_ctx *ctx, int argc, char **argv);

#define CTL_USAGE_COMMON                                                                           \
    "  -d, --db DIR            the store directory (default: $DNSBL_DB)\n"                         \
    "  -h, --help              show this help\n"

#define CTL_USAGE_CREATE                                                                           \
    "      --create            make the store if it does not exist yet (as init does)\n"

#define CTL_USAGE_BY                                                                               \
    "      --by NAME           who acts, for the history show prints (default:\n"                  \
    "                          $SUDO_USER, $USER, $LOGNAME, else the uid)\n"

static const struct ctl_command ctl_commands[] = {
    {"init", ctl_cmd_init,
     "Usage: dnsblctl init [DIR] [--owner USER[:GROUP]]\n"
     "\n"
     "Make a new, empty store in DIR (default: --db or $DNSBL_DB), creating the\n"
     "directory (mode 0750) if it is missing. data.mdb gets mode 0640 and\n"
     "lock.mdb 0660 whatever the umask: LMDB readers such as dnsbld take their\n"
     "reader slot in lock.mdb, so they need write access to it. Write commands\n"
     "never create a store unless given --create, so a mistyped --db fails\n"
     "instead of filling a new, empty store. Refused (exit 1) when DIR holds a\n"
     "store already, or files that are not a store's.\n"
     "\n"
     "Options:\n"
     "  -o, --owner USER[:GROUP]  give the directory and the store's files to USER\n"
     "                          (and GROUP, default USER's group): the user dnsbld\n"
     "                          runs as, when root makes the store\n" CTL_USAGE_COMMON,
     "make a new, empty store"},
    {"add", ctl_cmd_add,
     "Usage: dnsblctl add ADDR|PREFIX [--reason TEXT] [--code 127.0.0.N] [--expires WHEN]\n"
     "                    [--by NAME]\n"
     "\n"
     "List an IPv4 or IPv6 address or CIDR prefix by hand. Listing 127.0.0.1\n"
     "(the RFC 5782 test point that must never be listed), or a prefix covering\n"
     "it, is refused. Without --force it is also refused (exit 1) when the\n"
     "prefix is shorter than /8 (IPv4) or /16 (IPv6), or when an allow entry in\n"
     "force equals or covers it (listing over an allow of the same prefix\n"
     "replaces the allow; under a wider allow the listing has no effect while\n"
     "the allow stands).\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       why it is listed (shown in TXT answers)\n"
     "  -c, --code 127.0.0.N    the A value to answer with (default 127.0.0.2);\n"
     "                          not 127.0.0.1, not 127.255.255.252-255\n"
     "  -e, --expires WHEN      a duration from now (7d, 12h, 1d12h, 3600) or an\n"
     "                          RFC 3339 time; default: never\n"
     "      --force             list it even so (see above)\n" CTL_USAGE_BY CTL_USAGE_CREATE
         CTL_USAGE_COMMON,
     "list an address or prefix"},
    {"delist", ctl_cmd_delist,
     "Usage: dnsblctl delist ADDR|PREFIX [--reason TEXT] [--by NAME]\n"
     "\n"
     "Remove a listing. The address stays known (its history is kept); it is just\n"
     "not listed any more, and evidence before the delisting no longer counts: if\n"
     "complaints resume, it lists again by score. The entry's note and its\n"
     "history (dnsblctl show) record who and why. Fails (exit 1) if nothing\n"
     "listed covers it.\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       why it is delisted\n" CTL_USAGE_BY CTL_USAGE_COMMON,
     "remove a listing, keeping the history"},
    {"remove", ctl_cmd_remove,
     "Usage: dnsblctl remove ADDR|PREFIX [--dataset NAME] [--reason TEXT] [--by NAME]\n"
     "\n"
     "Take an entry out of the store: the prefix exactly as stored (dnsblctl\n"
     "list shows them). Without --dataset the whole entry goes: an operator\n"
     "listing, allow or delisting, every dataset's listing, its evidence and\n"
     "history. --dataset NAME takes only that dataset's listing or exclusion;\n"
     "--dataset operator only the operator's decision (list, delist, allow),\n"
     "so what the datasets and the evidence say answers again. The operator\n"
     "history keeps the removal (who, when, why). Exit 1, changing nothing,\n"
     "when there is no such entry or part.\n"
     "\n"
     "Options:\n"
     "      --dataset NAME      remove only that dataset's part (\"operator\": the\n"
     "                          operator's decision)\n"
     "  -r, --reason TEXT       why (kept in the operator history)\n" CTL_USAGE_BY CTL_USAGE_COMMON,
     "take an entry, or one dataset's part of it, out of the store"},
    {"allow", ctl_cmd_allow,
     "Usage: dnsblctl allow ADDR|PREFIX [--reason TEXT] [--expires WHEN] [--by NAME]\n"
     "\n"
     "Never list this address or prefix, whatever covers it or its score.\n"
     "Without --force it is refused (exit 1) when the prefix is shorter than /8\n"
     "(IPv4) or /16 (IPv6), or when an operator listing in force (dnsblctl add)\n"
     "equals it or lies inside it: the allow would undo that listing whole. An\n"
     "allow inside a wider listing is an exception to it and needs no --force.\n"
     "\n"
     "Options:\n"
     "  -r, --reason TEXT       why it is allowed\n"
     "  -e, --expires WHEN      a duration from now (7d, 12h, 1d12h, 3600) or an\n"
     "                          RFC 3339 time; default: never\n"
     "      --force             allow it even so (see above)\n" CTL_USAGE_BY CTL_USAGE_CREATE
         CTL_USAGE_COMMON,
     "allowlist an address or prefix"},
    {"show", ctl_cmd_show,
     "Usage: dnsblctl show ADDR [--json] [--chart] [--evidence N]\n"
     "                     [--zone-config FILE --zone NAME]\n"
     "\n"
     "The report on one address: listed or not, since when and why, the codes it\n"
     "answers with, the score now against the threshold and when it falls under\n"
     "it if nothing new arrives, complaints, trap hits, volume and complaint\n"
     "rate, the traffic light, the share of complaints about mail that failed\n"
     "SPF/DKIM/DMARC, first/last seen, sources, the last SNDS row, and a 30-day\n"
     "daily trend (complaints, trap hits, volume) drawn on a terminal.\n"
     "\n"
     "\"Listed since\" is the operator's listing time for a manual listing, the\n"
     "import time of the data for an imported one, the SNDS activity start for\n"
     "an SNDS verdict, and for a listing by score the first day of the present\n"
     "run of days over the threshold. Counters are lifetime totals of the\n"
     "longest covering entry holding evidence; the score decays (see README).\n"
     "Light: green, yellow or red by the score against the threshold.\n"
     "An address the store does not know is simply not listed (known: no).\n"
     "The operator history: every add, delist and allow of the address and of\n"
     "the prefixes containing it, oldest first, a \"history:\" line each (who,\n"
     "when, the code and expiry, why; \"operator_history\" in JSON).\n"
     "\n"
     "Options:\n"
     "  -j, --json              print one JSON object\n"
     "  -C, --chart             draw the trend even when stdout is not a terminal\n"
     "      --evidence N        then the last N pieces of evidence of the entries\n"
     "                          covering it, oldest first: time, kind, dataset\n"
     "                          (the import's --source) and what identifies each\n"
     "                          (ARF Message-ID, reporter, Feedback-Type, SPF/DKIM/\n"
     "                          DMARC; trap HELO, MAIL FROM, RCPT TO; fail2ban jail;\n"
     "                          SNDS period and colour) as name=value; N <= 1000\n"
     "  -z, --zone NAME         the zone whose policy decides (with --zone-config)\n"
     "  -Z, --zone-config FILE  dnsbld's configuration file; default: the default\n"
     "                          blocklist policy\n" CTL_USAGE_COMMON,
     "report on one address: listing, score, evidence, trend"},
    {"list", ctl_cmd_list,
     "Usage: dnsblctl list [--json] [--listed] [--dataset NAME] [--why TEXT]\n"
     "                     [--zone NAME] [--zone-config FILE]\n"
     "\n"
     "Every entry in the store, in address order (IPv4 before IPv6), and what it\n"
     "answers now in each zone, decided as dnsbld decides its whole prefix: one\n"
     "row per entry and zone with the entry's stored STATE (none, listed,\n"
     "delisted, allowed), LISTED yes or no, the CODEs it answers with, WHY (the\n"
     "reason of each code: manual, imported, snds, complaints, traps, score; or\n"
     "why it is not listed: allowed, delisted, expired, excluded), EXPIRES of\n"
     "an operator state and the entry's REASON. A ZONE column follows PREFIX\n"
     "when the zones have names. The zones: --zone NAME (its policy from\n"
     "--zone-config, else the default policy), every zone of --zone-config\n"
     "alone, else one unnamed zone with the default policy.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print a JSON array of objects, each with a zones\n"
     "                          array: zone, listed, why, codes [{code, why}]\n"
     "      --listed            only rows that are listed\n"
     "      --dataset NAME      only entries whose imported data came from the\n"
     "                          data set NAME\n"
     "      --why TEXT          only rows whose WHY or reason (the entry's, or\n"
     "                          that of the entry deciding) contains TEXT, in\n"
     "                          any case\n"
     "  -z, --zone NAME         the zone to decide in\n"
     "  -Z, --zone-config FILE  dnsbld's configuration file\n" CTL_USAGE_COMMON,
     "list every entry and what it answers in each zone"},
    {"import", ctl_cmd_import,
     "Usage: dnsblctl import [--format FORMAT] [--source NAME] [--zone NAME]\n"
     "                       [--code 127.0.0.N] [--reason TEXT] [--dry-run]\n"
     "                       [--reject-dir DIR] [--emit-zone FILE] [--batch N]\n"
     "                       [--done DIR] [--sync [--max-remove PCT] [--force]]\n"
     "                       PATH...\n"
     "\n"
     "Import feeds into the store. PATH is a file (gzip is read transparently),\n"
     "a maildir or a folder of .eml files (read message by message), or - for\n"
     "standard input. Events are committed in batches, one write transaction\n"
     "each: an import killed at any moment leaves a consistent store, and\n"
     "running it again reaches the same state as one uninterrupted run (reports\n"
     "and rows have dedup keys; importing the same input twice changes nothing).\n"
     "\n"
     "A rejected record is reported as FILE:LINE: why (mail: FILE: <Message-ID>:\n"
     "why) and counted; the import goes on. Listing 127.0.0.1, the RFC 5782 test\n"
     "point, or a prefix covering it, is always rejected. On a terminal a\n"
     "progress bar is drawn on stderr. The last line on stdout is always:\n"
     "  read N, imported N, duplicates N, rejected N, warnings N, seconds S.SS\n"
     "read counts records (messages, rows, lines), imported the events applied,\n"
     "duplicates the events the store had already seen. Exit status 1 if any\n"
     "record was rejected or an input could not be read.\n"
     "\n"
     "Formats:\n"
     "  auto          detect from the content, and say so on stderr (default)\n"
     "  arf           one feedback report (RFC 5965 ARF, legacy Microsoft JMRP)\n"
     "  mbox          an mbox file of reports\n"
     "  maildir       a maildir directory of reports (cur/ and new/)\n"
     "  snds          Microsoft SNDS data or IP-status export\n"
     "  rbldnsd:TYPE  rbldnsd data; TYPE is ip4set, ip4tset, ip4trie, ip6trie,\n"
     "                ip6tset or combined (never detected: the types share a syntax)\n"
     "  csv           address_or_prefix,kind,weight,time,reason[,code,expires,\n"
     "                ttl,txt,dataset] (what export --format csv writes)\n"
     "  list          one IP or CIDR per line (DROP style), listed with --code\n"
     "  traps         spam-trap hits: timestamp,ip,helo,mail_from,rcpt_to\n"
     "  fail2ban      fail2ban logs: one event per Ban\n"
     "\n"
     "Options:\n"
     "  -f, --format FORMAT     the input format (see above)\n"
     "  -s, --source NAME       the source name kept with the evidence, and the\n"
     "                          dataset of listings that name none (default:\n"
     "                          the format name)\n"
     "  -z, --zone NAME         the zone of rbldnsd data (needed for combined\n"
     "                          and --emit-zone); for other list data the\n"
     "                          dataset of its listings\n"
     "  -c, --code 127.0.0.N    the A value of plain list entries (default\n"
     "                          127.0.0.4)\n"
     "  -r, --reason TEXT       the reason of plain list entries (default: the\n"
     "                          text on the line)\n"
     "  -n, --dry-run           parse and count, never write the store\n"
     "  -R, --reject-dir DIR    copy each rejected record to\n"
     "                          DIR/<file>.<line or n>.rej (messages: .eml)\n"
     "  -E, --emit-zone FILE    rbldnsd: also write the apex zone file from the\n"
     "                          data's $SOA and $NS lines (atomically)\n"
     "  -b, --batch N           events per write transaction (default 50000);\n"
     "                          listings (no dedup keys) wait for the end of their\n"
     "                          input and go in sorted by prefix\n"
     "      --done DIR          move each message read from a directory into DIR\n"
     "                          once it is in the store; without it a maildir's\n"
     "                          messages are marked seen (cur/NAME:2,S) and\n"
     "                          skipped by the next run\n"
     "      --sync              the inputs are the whole truth of their datasets\n"
     "                          (--source, or those the data names): listings\n"
     "                          they no longer hold are removed, all in one write\n"
     "                          transaction. List data only (rbldnsd, list, DROP,\n"
     "                          CSV import_list/import_exclude rows). Nothing is\n"
     "                          synced when an input is not read whole or a record\n"
     "                          was rejected, or when it would remove more than\n"
     "                          --max-remove of what the datasets held\n"
     "      --max-remove PCT    the share a sync may remove (default 50)\n"
     "      --force             sync even so\n" CTL_USAGE_CREATE CTL_USAGE_COMMON,
     "import feeds: ARF, mbox, maildir, SNDS, rbldnsd, CSV, lists"},
    {"imports", ctl_cmd_imports,
     "Usage: dnsblctl imports [--json]\n"
     "\n"
     "List every import the store recorded, oldest first: its id, when it began,\n"
     "its state (running, done, undoing, undone), who ran it, --source, the\n"
     "format, the files and its counts (read, imported, duplicates, rejected,\n"
     "entries changed). Every dnsblctl import run is one import, whatever the\n"
     "number of files; a --dry-run records none. An import still \"running\" that\n"
     "no process runs was killed: what it wrote can be undone all the same.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print a JSON array of objects: id, time, state,\n"
     "                          who, source, format, files, sync, counts\n" CTL_USAGE_COMMON,
     "list the imports recorded, for undo"},
    {"prune", ctl_cmd_prune,
     "Usage: dnsblctl prune --older-than DURATION\n"
     "\n"
     "Drop the undo records of every done import that began longer ago than\n"
     "DURATION (30d, 12h, 1d12h): the store keeps each import's before-images\n"
     "until then, and they add up. A pruned import stays in dnsblctl imports\n"
     "(state pruned) and can no longer be undone. Running imports, undone ones\n"
     "and those being undone are left alone; a prune killed midway is finished\n"
     "by running it again.\n"
     "\n"
     "Options:\n"
     "  -o, --older-than DURATION  how old an import must be\n" CTL_USAGE_COMMON,
     "drop the undo records of old imports"},
    {"undo", ctl_cmd_undo,
     "Usage: dnsblctl undo ID [--json]\n"
     "\n"
     "Reverse import ID (see dnsblctl imports): every entry, history day,\n"
     "evidence record, operator history record and dedup key it wrote or\n"
     "deleted goes back to what it was before it, so the store answers as if\n"
     "it had not run. What a later write changed again keeps that write's\n"
     "effect: a dataset's listing or the operator's decision as the import\n"
     "left them go back, counters lose what the import added. The work goes in\n"
     "batches of 10,000 records, one write transaction each, while dnsbld\n"
     "serves; an undo killed midway leaves the import \"undoing\", and running\n"
     "it again finishes it. Exit 1 for an unknown import or one undone already.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print one JSON object: import (as imports prints\n"
     "                          it) and undone (entries, history, evidence,\n"
     "                          oplog, seen, kept: records a later write had\n"
     "                          changed)\n" CTL_USAGE_COMMON,
     "reverse one import"},
    {"top", ctl_cmd_top,
     "Usage: dnsblctl top [--by score|complaints|traps] [--limit N] [--json]\n"
     "                    [--zone-config FILE --zone NAME]\n"
     "\n"
     "The worst offenders now: every entry holding evidence, ranked by its\n"
     "decayed score (or lifetime complaints, or trap hits), worst first. Entries\n"
     "whose rank value is zero are left out.\n"
     "\n"
     "Options:\n"
     "  -b, --by KEY            score (default), complaints or traps\n"
     "  -l, --limit N           how many to show (default 20)\n"
     "  -j, --json              print a JSON array of objects\n"
     "  -z, --zone NAME         the zone whose policy scores (with --zone-config)\n"
     "  -Z, --zone-config FILE  dnsbld's configuration file\n" CTL_USAGE_COMMON,
     "the worst offenders now"},
    {"export", ctl_cmd_export,
     "Usage: dnsblctl export --format rbldnsd|zone|csv [--zone NAME] [--output FILE]\n"
     "                       [--zone-file FILE] [--zone-config FILE]\n"
     "\n"
     "What a zone answers now for every stored entry, and for the RFC 5782 test\n"
     "point 127.0.0.2 (csv: the entries' state):\n"
     "  rbldnsd  rbldnsd data (needs --zone): $SOA and $NS of the zone (from\n"
     "           --zone-file or the config's zone file, else as dnsbld\n"
     "           synthesises them), ip4trie lines (ip6trie for IPv6; both make a\n"
     "           combined dataset), \"prefix :A:TXT\" with $ for the queried\n"
     "           address, exclusions as !prefix, one $TTL. A trie holds one A per\n"
     "           prefix: further codes are named in a comment\n"
     "  zone     a master-format zone file (needs --zone): the apex records and\n"
     "           A and TXT records; a prefix on an octet (IPv6: nibble) boundary\n"
     "           is a wildcard, others split into wildcards on the next boundary\n"
     "           (hosts below the last one); a name under a wildcard that answers\n"
     "           nothing holds only an HINFO record (no A, no TXT). A wildcard's\n"
     "           TXT names the listed prefix instead of the queried address\n"
     "  csv      a backup: every entry as address_or_prefix,kind,weight,time,\n"
     "           reason,code,expires,ttl,txt,dataset,source,by,action,auth,snds\n"
     "           rows (its datasets' parts, its operator state, its evidence day\n"
     "           by day, SNDS, first and last seen, sources), then the operator\n"
     "           history as oplog rows; imported into a fresh store, every\n"
     "           entry shows the same (not the evidence trail)\n"
     "\n"
     "Options:\n"
     "  -f, --format FORMAT     rbldnsd, zone or csv\n"
     "  -z, --zone NAME         the zone name ({zone} in TXT, the zone's origin)\n"
     "  -o, --output FILE       write FILE atomically instead of stdout\n"
     "  -F, --zone-file FILE    the apex records (SOA, NS, ...) for zone and rbldnsd\n"
     "  -Z, --zone-config FILE  dnsbld's configuration file: the zone's policy\n" CTL_USAGE_COMMON,
     "write what a zone answers as rbldnsd data, a zone file or CSV"},
    {"pull", ctl_cmd_pull,
     "Usage: dnsblctl pull ZONE --from ADDR[:PORT] [--tsig [ALG:]NAME:SECRET |\n"
     "                     --tsig-file FILE]\n"
     "                     [--dataset NAME] [--timeout S] [--allow-empty] [--axfr]\n"
     "                     [--if-due]\n"
     "\n"
     "Take ZONE from a primary DNS server by zone transfer, as a secondary does:\n"
     "IXFR (RFC 1995) from the serial the last pull applied, AXFR (RFC 5936) the\n"
     "first time or when the primary answers with the whole zone. Names become\n"
     "prefixes again (*.2.0.192.ZONE is 192.0.2.0/24, nibbles for IPv6), A values\n"
     "the listing codes, TXT the listing text; a name with only other records\n"
     "(HINFO) is an exclusion. A whole zone is the whole truth of the dataset\n"
     "(default: the zone's name); each transfer is applied in one write\n"
     "transaction together with the new serial, so a pull killed at any point\n"
     "leaves the old data and serial. A pull that fails (unreachable primary,\n"
     "timeout, bad TSIG, malformed transfer) exits 1 naming the primary, the\n"
     "message and the record, and changes no data; when the last success is\n"
     "older than the zone's SOA expire, the dataset's listings are withdrawn\n"
     "and the error says the zone expired. Prints on success:\n"
     "  zone Z: serial A -> B (AXFR|IXFR), records N, added N, removed N,\n"
     "  changed N, not addresses N, bytes N, seconds S\n"
     "A name with several A values keeps up to four, in DATASET, DATASET~2..~4.\n"
     "\n"
     "Options:\n"
     "  -f, --from ADDR[:PORT]  the primary (port 53 unless given; [V6]:PORT)\n"
     "  -y, --tsig [ALG:]NAME:SECRET  sign the request and check every answer\n"
     "                          (RFC 8945), the key as kdig -y takes it; ALG is\n"
     "                          hmac-sha256 (default), hmac-sha1, -sha384, -sha512\n"
     "      --tsig-file FILE    the same key read from the first line of FILE\n"
     "                          (keeps the secret out of the process list)\n"
     "  -s, --dataset NAME      the dataset to fill (default: ZONE)\n"
     "  -t, --timeout S         give up after S seconds without progress (30)\n"
     "      --allow-empty       accept a whole zone without any listing\n"
     "      --axfr              ask for the whole zone even when IXFR could do\n"
     "      --if-due            pull only when the zone's SOA says so: refresh seconds\n"
     "                          after the last success, retry after a failure\n"
     "                          (RFC 1035 3.3.13); else print when and exit 0\n" CTL_USAGE_CREATE
         CTL_USAGE_COMMON,
     "take a zone from a primary by AXFR/IXFR into a dataset"},
    {"datasets", ctl_cmd_datasets,
     "Usage: dnsblctl datasets [--json] [--zone-config FILE]\n"
     "\n"
     "The named datasets of the store, one line each: its kind (list: data whose\n"
     "parts are in entries; evidence: a feed source that brought evidence only;\n"
     "operator: the operator's decisions), the entries holding a part of it,\n"
     "how many of those list and how many exclude, the addresses listed (IPv4:\n"
     "addresses in the union of its listed prefixes; IPv6: /64 networks they\n"
     "touch, a longer prefix counting its /64 once), the format and files of\n"
     "its last import, the time of its last import and its last sync. An\n"
     "evidence source's entries are those naming it among their sources. The\n"
     "counts come from one walk over every entry.\n"
     "\n"
     "Options:\n"
     "  -j, --json              a JSON array, one object per dataset\n"
     "  -Z, --zone-config FILE  dnsbld's configuration: name the zones each\n"
     "                          dataset feeds (those whose datasets list names it\n"
     "                          or is empty)\n" CTL_USAGE_COMMON,
     "list the datasets: kind, entries, addresses, last import and sync"},
    {"check", ctl_cmd_check,
     "Usage: dnsblctl check [--json]\n"
     "\n"
     "Check the store's integrity in one read snapshot: the schema version and\n"
     "serial records, that every entry's key and value decode, that every entry\n"
     "carries the right ancestors (the lengths of the entries containing it,\n"
     "which lookups rely on), that the lookup filter has a bit for every entry,\n"
     "that the flat index is well formed and holds every entry as the B-tree does\n"
     "except where writes have marked changes since it was built,\n"
     "that every history record belongs to an existing entry and decodes, and\n"
     "that every dedup key is 32 bytes. Each problem is printed on a line of its own, naming the "
     "database\n"
     "and the key (as a prefix). Safe while dnsbld serves and imports run.\n"
     "A directory without a store yet is consistent (nothing to check).\n"
     "Exit status 0 when consistent, 1 when a problem was found or the store\n"
     "cannot be read.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print one JSON object: db, exists, problems,\n"
     "                          consistent, serial, entries\n" CTL_USAGE_COMMON,
     "check the store's integrity"},
    {"reindex", ctl_cmd_reindex,
     "Usage: dnsblctl reindex [--json]\n"
     "\n"
     "Rebuild the store's flat index now: the sorted copy of the entries that\n"
     "dnsbld searches instead of the B-tree. Writes mark what they change, and\n"
     "those addresses are looked up in the B-tree until the next rebuild, so\n"
     "answers are the same either way; every dnsblctl write rebuilds the index\n"
     "once the entries changed since reach 1,024 or 1/64 of the store, and a\n"
     "store gets one at 65,536 entries. Run this after many small writes, or\n"
     "to give a smaller store an index. One write transaction; dnsbld serves\n"
     "meanwhile and sees the new index with its next batch.\n"
     "\n"
     "Options:\n"
     "  -j, --json              print one JSON object: db, entries, values,\n"
     "                          bytes, changes, seconds\n" CTL_USAGE_COMMON,
     "rebuild the flat index that lookups search"},
    {"backup", ctl_cmd_backup,
     "Usage: dnsblctl backup DEST\n"
     "\n"
     "Write a consistent, compacted copy of the store as DEST/data.mdb (DEST is\n"
     "made if missing). The copy is one read snapshot, so dnsbld may serve and\n"
     "imports may run meanwhile; it holds the last commit before the snapshot.\n"
     "It is written under a temporary name, synced and renamed when whole, so\n"
     "a killed backup never leaves a data.mdb that looks complete. A DEST that\n"
     "holds a store in use (its lock.mdb) is refused. Load it with restore.\n"
     "\n"
     "Options:\n" CTL_USAGE_COMMON,
     "write a consistent, compacted copy of the store"},
    {"restore", ctl_cmd_restore,
     "Usage: dnsblctl restore SRC DIR\n"
     "\n"
     "Put the backup SRC (a data.mdb file, or a directory holding one) into DIR\n"
     "as a new store. DIR must be empty or absent: restore never writes over a\n"
     "store. The copy is staged inside DIR and checked as `check` does; only a\n"
     "consistent copy becomes DIR/data.mdb. On a problem (a damaged or\n"
     "truncated backup) each is printed, nothing is left in DIR, and the exit\n"
     "status is 1. --db is not used: DIR names the new store.\n"
     "\n"
     "Options:\n" CTL_USAGE_COMMON,
     "restore a backup into an empty directory, checked"},
    {"publish", ctl_cmd_publish,
     "Usage: dnsblctl publish [--config FILE] [--zone NAME]\n"
     "\n"
     "Publish what each zone of dnsbld's configuration answers now as its\n"
     "transferable view (AXFR/IXFR, doc/store-format.md \"Published view\"): the\n"
     "zone's names and records are made as export --format zone makes them and\n"
     "compared with the last published ones; when they differ, the new set, the\n"
     "difference (for IXFR) and serial + 1 are stored in one transaction. The\n"
     "serial only moves when the answers changed; a zone's first serial is the\n"
     "current time. Prints per zone the serial, whether it changed, the names\n"
     "added, removed and changed, and the seconds it took. Scores decay with\n"
     "time, so run it on a schedule (contrib/dnsblctl-publish.timer).\n"
     "The store remembers FILE (its full path); later runs without --config, and\n"
     "every command that writes entries (add, delist, remove, allow, import,\n"
     "undo), publish with it again unless given --no-publish.\n"
     "\n"
     "Options:\n"
     "  -c, --config FILE       dnsbld's configuration: its zones, their policy and\n"
     "                          journal_max, and its db (--db wins)\n"
     "  -z, --zone NAME         publish this zone only\n" CTL_USAGE_COMMON,
     "publish each zone's answers for zone transfers"},
    {"help", ctl_cmd_help,
     "Usage: dnsblctl help [COMMAND]\n"
     "\n"
     "Show the usage of dnsblctl or of one command.\n",
     "show the usage of a command"},
};

#define CTL_COMMAND_COUNT (sizeof ctl_commands / sizeof ctl_commands[0])

static void ctl_print_main_usage(FILE *out)
{
    fputs("Usage: dnsblctl [--db DIR] [--now TIME] [STORE OPTIONS] COMMAND [ARGS...]\n"
          "       dnsblctl help COMMAND | COMMAND --help\n"
          "       dnsblctl --help | --version\n"
          "\n"
          "Manage the dnsbld store: import feeds, list, delist and allow addresses\n"
          "and prefixes, report on them, and export what a zone answers.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        fprintf(out, "  %-8s  %s\n", ctl_commands[i].name, ctl_commands[i].summary);
    fputs("\n"
          "Options:\n"
          "  -d, --db DIR     the store directory (default: $DNSBL_DB); may also\n"
          "                   follow the command\n"
          "      --now TIME   for testing: take TIME (unix seconds or RFC 3339) as\n"
          "                   the current time\n"
          "  -h, --help       show this help\n"
          "  -V, --version    show the version\n"
          "      --no-publish  a command that writes entries does not publish the\n"
          "                   zones at its end (see publish), for bulk scripts\n"
          "\n"
          "Store options (for commands that write):\n"
          "  --map-size INITIAL[,MAX]  a new store's LMDB map, and the most it grows to, in\n"
          "                   bytes or with a k, m or g suffix (default 64m, up to 1 TiB);\n"
          "                   a write that would pass MAX fails and keeps what came before\n"
          "  --index-from N   give the store its lookup filter and flat index once it\n"
          "                   holds N entries (default 65536; below, the B-tree is cheap)\n"
          "  --reindex-after N  rebuild the flat index once N entries changed since it\n"
          "                   was built (default 1024, or 1/64 of the entries if more)\n"
          "  --evidence-days N  keep an address's evidence trail (show --evidence) for N\n"
          "                   days before its newest record (default 90, the default\n"
          "                   model window); at most 1000 records an address either way\n"
          "  --create         make the store if it does not exist yet (see init)\n"
          "\n"
          "Exit status: 0 success, 1 the operation failed (store error, refused,\n"
          "not listed), 2 bad usage.\n",
          out);
}

void ctl_print_usage(const struct ctl_command *cmd, FILE *out)
{
    fputs(cmd->usage, out);
}

static const struct ctl_command *ctl_find_command(const char *name)
{
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

void ctl_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs(CTL_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, CTL_PROG ": %s: ", ctx->command->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    /* The synopsis only: the error line must not scroll away behind the
     * whole help text. */
    const char *usage = ctx->command->usage;
    fprintf(stderr, "%.*s\n", (int)strcspn(usage, "\n"), usage);
    fprintf(stderr, "Run 'dnsblctl help %s' for the options.\n", ctx->command->name);
    return CTL_EXIT_USAGE;
}

/* The option getopt_long stopped at, as the user wrote it. With opterr
 * off glibc tells the cases apart only by optopt: 0 for an unknown long
 * option, a known option's value for a long option given an argument it
 * does not take (or one missing its argument), an unknown character for a
 * bad short option. A bad short option inside a cluster ("-jx") is only
 * known by optopt, as argv[optind - 1] may still be the argument before. */
static const char *ctl_getopt_culprit(char **argv, bool is_long, char *buf, size_t cap)
{
    const char *arg = argv[optind - 1];
    if (is_long)
        snprintf(buf, cap, "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(buf, cap, "-%c", optopt);
    return buf;
}

/* Reports what stopped getopt_long (c is ':' or '?'); ctx->command is NULL before the
 * command name. */
static void ctl_getopt_report(const struct ctl_ctx *ctx, char **argv, const char *shortopts, int c)
{
    char culprit[64];
    const char *before = "unknown option ";
    const char *after = "";

    if (c == ':') {
        ctl_getopt_culprit(argv, strncmp(argv[optind - 1], "--", 2) == 0, culprit, sizeof culprit);
        before = "option ";
        after = " needs an argument";
    } else if (optopt == 0) {
        ctl_getopt_culprit(argv, true, culprit, sizeof culprit);
    } else if (optopt != ':' && strchr(shortopts, optopt)) {
        ctl_getopt_culprit(argv, true, culprit, sizeof culprit);
        before = "option ";
        after = " takes no argument";
    } else {
        ctl_getopt_culprit(argv, false, culprit, sizeof culprit);
    }
    if (ctx->command)
        ctl_usage_error(ctx, "%s'%s'%s", before, culprit, after);
    else
        ctl_error("%s'%s'%s (see dnsblctl --help)", before, culprit, after);
}

int ctl_getopt(struct ctl_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        switch (c) {
        case -1:
            return CTL_GETOPT_END;
        case 'd':
            ctx->db = optarg;
            continue;
        case 'h':
            ctl_print_usage(ctx->command, stdout);
            return CTL_GETOPT_HELP;
        case CTL_OPT_CREATE:
            ctx->create = true;
            continue;
        case CTL_OPT_BY:
            if (ctl_args_check_by(optarg) != CTL_EXIT_OK)
                return CTL_GETOPT_BAD;
            ctx->by = optarg;
            continue;
        case ':':
        case '?':
            ctl_getopt_report(ctx, argv, shortopts, c);
            return CTL_GETOPT_BAD;
        default:
            return c;
        }
    }
}

int ctl_getopt_json_only(struct ctl_ctx *ctx, int argc, char **argv, bool *json, bool *done)
{
    static const struct option opts[] = {
        CTL_OPTIONS_COMMON, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    *json = *done = false;
    for (;;) {
        int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON "j", opts);
        switch (c) {
        case CTL_GETOPT_END:
            return ctl_args_none(ctx, argc, argv);
        case CTL_GETOPT_HELP:
            *done = true;
            return CTL_EXIT_OK;
        case 'j':
            *json = true;
            break;
        default:
            return CTL_EXIT_USAGE;
        }
    }
}

int ctl_getopt_common_only(struct ctl_ctx *ctx, int argc, char **argv, bool *done)
{
    static const struct option opts[] = {CTL_OPTIONS_COMMON, {NULL, 0, NULL, 0}};
    *done = false;
    int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON, opts);
    if (c == CTL_GETOPT_END)
        return CTL_EXIT_OK;
    if (c == CTL_GETOPT_HELP) {
        *done = true;
        return CTL_EXIT_OK;
    }
    return CTL_EXIT_USAGE;
}

int ctl_finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ctl_error("writing the output failed");
        return CTL_EXIT_FAIL;
    }
    return rc;
}

static int ctl_cmd_help(struct ctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {CTL_OPTIONS_COMMON, {NULL, 0, NULL, 0}};
    int c = ctl_getopt(ctx, argc, argv, CTL_SHORTOPTS_COMMON, opts);

    if (c == CTL_GETOPT_HELP)
        return CTL_EXIT_OK;
    if (c != CTL_GETOPT_END)
        return CTL_EXIT_USAGE;
    if (optind == argc) {
        ctl_print_main_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc - optind > 1)
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
    const struct ctl_command *cmd = ctl_find_command(argv[optind]);
    if (!cmd) {
        ctl_error("'%s' is not a command (see dnsblctl --help)", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    ctl_print_usage(cmd, stdout);
    return CTL_EXIT_OK;
}

/* Options before the command; "+" stops at the command name so that its
 * own options are left to it. --now is for tests (doc/testing is README's
 * "Tests" section): it fixes the clock of the whole run. */
enum { CTL_OPT_NOW = 256 };

/* A count for --index-from and --reindex-after. */
static bool ctl_parse_count(const char *text, size_t *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static int ctl_parse_global_options(struct ctl_ctx *ctx, int argc, char **argv)
{
    enum {
        OPT_MAP_SIZE = CTL_OPT_NOW + 1,
        OPT_INDEX_FROM,
        OPT_REINDEX_AFTER,
        OPT_EVIDENCE_DAYS,
        OPT_NO_PUBLISH
    };
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"now", required_argument, NULL, CTL_OPT_NOW},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"map-size", required_argument, NULL, OPT_MAP_SIZE},
        {"index-from", required_argument, NULL, OPT_INDEX_FROM},
        {"reindex-after", required_argument, NULL, OPT_REINDEX_AFTER},
        {"evidence-days", required_argument, NULL, OPT_EVIDENCE_DAYS},
        {"no-publish", no_argument, NULL, OPT_NO_PUBLISH},
        CTL_OPTION_CREATE,
        {NULL, 0, NULL, 0},
    };
    static const char shortopts[] = "+:d:hV";
    int64_t now;
    char why[256];
    size_t n;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            ctx->db = optarg;
            break;
        case CTL_OPT_NOW:
            if (time_parse_now(optarg, &now) != DNSBL_OK) {
                ctl_error("--now '%s': give unix seconds or an RFC 3339 time", optarg);
                return CTL_GETOPT_BAD;
            }
            time_set_now(now);
            break;
        case 'h':
            ctl_print_main_usage(stdout);
            return CTL_GETOPT_HELP;
        case 'V':
            printf("dnsblctl %s\n", DNSBL_VERSION);
            return CTL_GETOPT_HELP;
        case CTL_OPT_CREATE:
            ctx->create = true;
            break;
        case OPT_NO_PUBLISH:
            ctx->no_publish = true;
            break;
        case OPT_MAP_SIZE:
            if (store_options_map_size(&ctx->store_opt, optarg, why, sizeof why) != DNSBL_OK) {
                ctl_error("--map-size: %s (see dnsblctl --help)", why);
                return CTL_GETOPT_BAD;
            }
            break;
        case OPT_EVIDENCE_DAYS:
            if (store_options_evidence_days(&ctx->store_opt, optarg, why, sizeof why) != DNSBL_OK) {
                ctl_error("--evidence-days: %s (see dnsblctl --help)", why);
                return CTL_GETOPT_BAD;
            }
            break;
        case OPT_INDEX_FROM:
        case OPT_REINDEX_AFTER:
            if (!ctl_parse_count(optarg, &n)) {
                ctl_error("--%s: '%s' is not a count (see dnsblctl --help)",
                          c == OPT_INDEX_FROM ? "index-from" : "reindex-after", optarg);
                return CTL_GETOPT_BAD;
            }
            if (c == OPT_INDEX_FROM)
                ctx->store_opt.filter_min = ctx->store_opt.flat_min = n;
            else
                ctx->store_opt.flat_changes = n;
            break;
        default:
            ctl_getopt_report(ctx, argv, shortopts, c);
            return CTL_GETOPT_BAD;
        }
    }
    return CTL_GETOPT_END;
}

/* The commands that change entries, after which the zones are published
 * again (cmd_publish.c). */
static bool ctl_command_writes(const struct ctl_command *cmd)
{
    static const char *const writers[] = {"add",    "delist", "remove", "allow",
                                          "import", "undo",   "pull"};
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
        if (strcmp(cmd->name, writers[i]) == 0)
            return true;
    return false;
}

static int ctl_run(int argc, char **argv)
{
    struct ctl_ctx ctx = {0};

    store_options_default(&ctx.store_opt);
    ctx.db = getenv("DNSBL_DB");
    if (ctx.db && !*ctx.db)
        ctx.db = NULL;
    switch (ctl_parse_global_options(&ctx, argc, argv)) {
    case CTL_GETOPT_HELP:
        return CTL_EXIT_OK;
    case CTL_GETOPT_BAD:
        return CTL_EXIT_USAGE;
    }
    if (optind >= argc) {
        ctl_error("no command given");
        fputc('\n', stderr);
        ctl_print_main_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    ctx.command = ctl_find_command(argv[optind]);
    if (!ctx.command) {
        ctl_error("'%s' is not a command (see dnsblctl --help)", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    ctx.now = time_now();
    int first = optind;
    /* 0, not 1: glibc re-initialises its scanner (the "+" mode) only then. */
    optind = 0;
    int rc = ctx.command->fn(&ctx, argc - first, argv + first);
    if (rc == CTL_EXIT_OK && !ctx.no_publish && ctl_command_writes(ctx.command))
        ctl_publish_remembered(&ctx);
    return rc;
}

int main(int argc, char **argv)
{
    return ctl_finish_output(ctl_run(argc, argv));
}
