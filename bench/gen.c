/* gen: the benchmark's data and query sets, from a fixed seed.
 *
 * Writes into DIR: entries.csv (dnsblctl import --format csv), bl4.ip4trie
 * and bl6.ip6trie (the same listings as rbldnsd data), queries.bin (built
 * queries for qgen), queries.txt (the same for dnsperf), fresh.txt (IPv4
 * addresses neither listed nor queried, for update tests) and gen.txt (the
 * counts). The mix is fixed here, before anything is measured:
 *   entries: 90% IPv4 /32, 5% IPv4 /24../16, 4% IPv6 /64, 1% IPv6 /128;
 *   queries: type A, no EDNS, RD clear; 80% IPv4 / 20% IPv6, each 50%
 *   listed (an address inside a random entry) / 50% unlisted (an address
 *   that no entry covers).
 * Everything is built in memory and freed at exit; the output is the same
 * for the same arguments on every machine. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GEN_TIME 1767225600 /* 2026-01-01T00:00:00Z: every listing's time */
#define GEN_REASON "bench listing"
#define GEN_ZONE "bl.example"
#define GEN_FRESH 5000
#define M61 ((UINT64_C(1) << 61) - 1)

struct gen_v4 {
    uint32_t net;
    uint8_t plen;
};

struct gen_v6 {
    uint64_t hi, lo;
    uint8_t plen; /* 64 or 128 */
};

/* Sorted IPv4 prefix networks per length, for "is this covered". */
struct gen_cover {
    uint32_t *nets[33];
    size_t n[33];
};

static uint64_t gen_state;

static uint64_t gen_rand(void)
{
    /* splitmix64: fixed output for a fixed seed on any platform. */
    uint64_t z = (gen_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double gen_unit(void)
{
    return (double)(gen_rand() >> 11) / (double)(UINT64_C(1) << 53);
}

/* Bijections, so distinct indexes give distinct addresses without a set. */
static uint32_t gen_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

static uint64_t gen_mix61(uint64_t x)
{
    x = (x * UINT64_C(0x9e3779b97f4a7c15)) & M61;
    x ^= x >> 29;
    x = (x * UINT64_C(0xbf58476d1ce4e5b9)) & M61;
    x ^= x >> 32;
    return x;
}

/* Public unicast space only, as real lists hold. */
static bool gen_v4_public(uint32_t a)
{
    uint8_t o1 = (uint8_t)(a >> 24), o2 = (uint8_t)(a >> 16);
    if (o1 == 0 || o1 == 10 || o1 == 127 || o1 >= 224)
        return false;
    if ((o1 == 169 && o2 == 254) || (o1 == 172 && (o2 & 0xf0) == 16) ||
        (o1 == 192 && o2 == 168) || (o1 == 100 && (o2 & 0xc0) == 64))
        return false;
    return true;
}

/* a.b.c.d with every octet one digit: its name is also the start of an
 * IPv6 name (d.c.b.a = four nibbles), an empty non-terminal that a server
 * may rightly answer NOERROR. Not a fair "unlisted" query. */
static bool gen_v4_ambiguous(uint32_t a)
{
    return (a >> 24) < 10 && ((a >> 16) & 0xff) < 10 && ((a >> 8) & 0xff) < 10 &&
           (a & 0xff) < 10;
}

/* The top 64 bits of the IPv6 address for index i: in 2000::/3, but not
 * in 6to4 (2002::/16) or Teredo (2001::/32), whose addresses embed IPv4
 * addresses that some servers look up in their IPv4 data. 0: skip i. */
static uint64_t gen_v6_top(uint64_t i, uint64_t key)
{
    uint64_t hi = (UINT64_C(1) << 61) | gen_mix61((i ^ key) & M61);
    if ((hi >> 48) == 0x2002 || (hi >> 32) == 0x20010000)
        return 0;
    return hi;
}

static uint32_t gen_mask(unsigned plen)
{
    return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

static int gen_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static bool gen_covered(const struct gen_cover *c, uint32_t a)
{
    for (unsigned l = 0; l <= 32; l++) {
        if (c->n[l] == 0)
            continue;
        uint32_t key = a & gen_mask(l);
        if (bsearch(&key, c->nets[l], c->n[l], sizeof key, gen_cmp_u32))
            return true;
    }
    return false;
}

static void *gen_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "gen: out of memory\n");
        exit(1);
    }
    return p;
}

static FILE *gen_open(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "gen: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static void gen_close(FILE *f, const char *name)
{
    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "gen: writing %s failed\n", name);
        exit(1);
    }
}

static void gen_v6_bytes(uint64_t hi, uint64_t lo, uint8_t b[16])
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(hi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
}

static void gen_v6_text(uint64_t hi, uint64_t lo, char *buf, size_t cap)
{
    uint8_t b[16];
    gen_v6_bytes(hi, lo, b);
    inet_ntop(AF_INET6, b, buf, (socklen_t)cap);
}

/* The prefix length of an IPv4 non-/32 entry: mostly /24, as in real lists. */
static uint8_t gen_prefix_len(void)
{
    static const struct {
        uint8_t plen;
        double share;
    } mix[] = {{24, .60}, {23, .10}, {22, .10}, {21, .05}, {20, .05},
               {19, .03}, {18, .03}, {17, .02}, {16, .02}};
    double u = gen_unit(), acc = 0;
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        acc += mix[i].share;
        if (u < acc)
            return mix[i].plen;
    }
    return 24;
}

/* A query packet: id 0 (qgen sets it), no flags, one question, type A. */
static size_t gen_query(const char *name, uint8_t *pkt)
{
    static const uint8_t hdr[12] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(pkt, hdr, sizeof hdr);
    size_t o = sizeof hdr;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        pkt[o++] = (uint8_t)l;
        memcpy(pkt + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    pkt[o++] = 0;
    pkt[o++] = 0;
    pkt[o++] = 1; /* A */
    pkt[o++] = 0;
    pkt[o++] = 1; /* IN */
    return o;
}

static void gen_qname_v4(uint32_t a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u." GEN_ZONE, a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff,
             a >> 24);
}

static void gen_qname_v6(uint64_t hi, uint64_t lo, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    gen_v6_bytes(hi, lo, b);
    size_t o = 0;
    for (int i = 15; i >= 0; i--) {
        buf[o++] = hex[b[i] & 0xf];
        buf[o++] = '.';
        buf[o++] = hex[b[i] >> 4];
        buf[o++] = '.';
    }
    snprintf(buf + o, cap - o, "%s", GEN_ZONE);
}

static void gen_usage(void)
{
    fputs("Usage: gen [--entries N] [--queries N] [--seed S] --out DIR\n"
          "Write entries.csv, bl4.ip4trie, bl6.ip6trie, queries.bin, queries.txt,\n"
          "fresh.txt and gen.txt into DIR (see the top of bench/gen.c for the mix).\n",
          stderr);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"entries", required_argument, NULL, 'n'},
                                         {"queries", required_argument, NULL, 'q'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    size_t entries = 1000000, queries = 1000000;
    uint64_t seed = 4;
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "n:q:s:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            entries = strtoull(optarg, NULL, 10);
            break;
        case 'q':
            queries = strtoull(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'o':
            dir = optarg;
            break;
        default:
            gen_usage();
            return c == 'h' ? 0 : 2;
        }
    }
    if (!dir || entries < 100 || entries > 100000000 || queries < 10) {
        gen_usage();
        return 2;
    }
    mkdir(dir, 0755);
    gen_state = seed;
    uint32_t key32 = (uint32_t)gen_rand();
    uint64_t key61 = gen_rand() & M61;

    size_t n_pfx = entries * 5 / 100, n_64 = entries * 4 / 100, n_128 = entries / 100;
    size_t n_32 = entries - n_pfx - n_64 - n_128;
    size_t n4 = n_32 + n_pfx, n6 = n_64 + n_128;
    struct gen_v4 *v4 = gen_alloc(n4, sizeof *v4);
    struct gen_v6 *v6 = gen_alloc(n6, sizeof *v6);

    /* IPv4 /32: indexes from 0 up; unlisted query addresses use indexes
     * from 2^31 and fresh ones from 3 * 2^30, so they never collide. */
    uint32_t idx = 0;
    for (size_t i = 0; i < n_32; idx++) {
        uint32_t a = gen_mix32(idx ^ key32);
        if (gen_v4_public(a))
            v4[i++] = (struct gen_v4){a, 32};
    }
    /* Prefixes: random public networks, distinct per length (duplicates
     * dropped and drawn again), then shuffled into the entry list. */
    struct gen_cover cover = {0};
    size_t cap[33] = {0}, have = 0;
    while (have < n_pfx) {
        for (size_t k = have; k < n_pfx;) {
            uint8_t plen = gen_prefix_len();
            uint32_t net = (uint32_t)gen_rand() & gen_mask(plen);
            if (!gen_v4_public(net))
                continue;
            if (cover.n[plen] == cap[plen]) {
                cap[plen] = cap[plen] ? cap[plen] * 2 : 1024;
                cover.nets[plen] = realloc(cover.nets[plen], cap[plen] * sizeof(uint32_t));
                if (!cover.nets[plen]) {
                    fprintf(stderr, "gen: out of memory\n");
                    return 1;
                }
            }
            cover.nets[plen][cover.n[plen]++] = net;
            k++;
        }
        have = 0;
        for (unsigned l = 0; l <= 32; l++) {
            qsort(cover.nets[l], cover.n[l], sizeof(uint32_t), gen_cmp_u32);
            size_t u = 0;
            for (size_t k = 0; k < cover.n[l]; k++)
                if (u == 0 || cover.nets[l][u - 1] != cover.nets[l][k])
                    cover.nets[l][u++] = cover.nets[l][k];
            cover.n[l] = u;
            have += u;
        }
    }
    size_t k4 = n_32;
    for (unsigned l = 0; l <= 32; l++)
        for (size_t m = 0; m < cover.n[l]; m++)
            v4[k4++] = (struct gen_v4){cover.nets[l][m], (uint8_t)l};
    for (size_t i = n4 - 1; i > 0; i--) {
        size_t j = (size_t)(gen_rand() % (i + 1));
        struct gen_v4 t = v4[i];
        v4[i] = v4[j];
        v4[j] = t;
    }
    /* IPv6 /64 (indexes 0..), /128 (from 2^40), unlisted (from 2^41): the top 64 bits are
     * 2000::/3 plus a 61-bit bijection of the index, so the three never share a /64. */
    uint64_t i6 = 0;
    for (size_t i = 0; i < n_64; i6++) {
        uint64_t hi = gen_v6_top(i6, key61);
        if (hi)
            v6[i++] = (struct gen_v6){hi, 0, 64};
    }
    i6 = UINT64_C(1) << 40;
    for (size_t i = 0; i < n_128; i6++) {
        uint64_t hi = gen_v6_top(i6, key61);
        if (hi)
            v6[n_64 + i++] = (struct gen_v6){hi, gen_rand() | 1, 128};
    }

    /* entries.csv and the rbldnsd files, in the same (random) order. */
    FILE *csv = gen_open(dir, "entries.csv");
    FILE *r4 = gen_open(dir, "bl4.ip4trie");
    FILE *r6 = gen_open(dir, "bl6.ip6trie");
    fputs("address_or_prefix,kind,weight,time,reason\n", csv);
    fputs("# bench/gen: the same listings as entries.csv\n"
          "$SOA 2100 ns." GEN_ZONE " hostmaster." GEN_ZONE " 1 3600 600 604800 2100\n"
          "$NS 2100 ns." GEN_ZONE "\n"
          ":127.0.0.2:$ is listed in " GEN_ZONE ": " GEN_REASON "\n",
          r4);
    fputs("# bench/gen: the same listings as entries.csv\n"
          ":127.0.0.2:$ is listed in " GEN_ZONE ": " GEN_REASON "\n",
          r6);
    for (size_t i = 0; i < n4; i++) {
        struct in_addr ia = {htonl(v4[i].net)};
        char t[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ia, t, sizeof t);
        if (v4[i].plen == 32) {
            fprintf(csv, "%s,list,1,%d," GEN_REASON "\n", t, GEN_TIME);
            fprintf(r4, "%s\n", t);
        } else {
            fprintf(csv, "%s/%u,list,1,%d," GEN_REASON "\n", t, v4[i].plen, GEN_TIME);
            fprintf(r4, "%s/%u\n", t, v4[i].plen);
        }
    }
    for (size_t i = 0; i < n6; i++) {
        char t[INET6_ADDRSTRLEN];
        gen_v6_text(v6[i].hi, v6[i].lo, t, sizeof t);
        if (v6[i].plen == 64) {
            fprintf(csv, "%s/64,list,1,%d," GEN_REASON "\n", t, GEN_TIME);
            fprintf(r6, "%s/64\n", t);
        } else {
            fprintf(csv, "%s,list,1,%d," GEN_REASON "\n", t, GEN_TIME);
            fprintf(r6, "%s/128\n", t);
        }
    }
    gen_close(csv, "entries.csv");
    gen_close(r4, "bl4.ip4trie");
    gen_close(r6, "bl6.ip6trie");

    /* Queries. */
    FILE *qb = gen_open(dir, "queries.bin");
    FILE *qt = gen_open(dir, "queries.txt");
    uint32_t count = (uint32_t)queries;
    fwrite("DNSBLQ1\n", 1, 8, qb);
    fwrite(&count, sizeof count, 1, qb);
    uint32_t unl4 = UINT32_C(1) << 31;
    uint64_t unl6 = UINT64_C(1) << 41;
    size_t nq[2][2] = {{0, 0}, {0, 0}}; /* [v6][listed] */
    for (size_t q = 0; q < queries; q++) {
        bool is6 = gen_unit() < 0.2, listed = gen_unit() < 0.5;
        char name[160];
        if (!is6 && listed) {
            const struct gen_v4 *e = &v4[gen_rand() % n4];
            uint32_t host = e->plen == 32 ? 0 : (uint32_t)gen_rand() & ~gen_mask(e->plen);
            gen_qname_v4(e->net | host, name, sizeof name);
        } else if (!is6) {
            uint32_t a;
            do
                a = gen_mix32(unl4++ ^ key32);
            while (!gen_v4_public(a) || gen_v4_ambiguous(a) || gen_covered(&cover, a));
            gen_qname_v4(a, name, sizeof name);
        } else if (listed) {
            const struct gen_v6 *e = &v6[gen_rand() % n6];
            gen_qname_v6(e->hi, e->plen == 64 ? gen_rand() : e->lo, name, sizeof name);
        } else {
            uint64_t hi;
            while ((hi = gen_v6_top(unl6++, key61)) == 0)
                ;
            gen_qname_v6(hi, gen_rand(), name, sizeof name);
        }
        nq[is6][listed]++;
        uint8_t pkt[300];
        size_t len = gen_query(name, pkt);
        uint8_t rec[4] = {listed, is6 ? 6 : 4, (uint8_t)len, (uint8_t)(len >> 8)};
        fwrite(rec, 1, sizeof rec, qb);
        fwrite(pkt, 1, len, qb);
        fprintf(qt, "%s A\n", name);
    }
    gen_close(qb, "queries.bin");
    gen_close(qt, "queries.txt");

    FILE *fr = gen_open(dir, "fresh.txt");
    uint32_t fresh = UINT32_C(3) << 30;
    for (int k = 0; k < GEN_FRESH; k++) {
        uint32_t a;
        do
            a = gen_mix32(fresh++ ^ key32);
        while (!gen_v4_public(a) || gen_covered(&cover, a));
        struct in_addr ia = {htonl(a)};
        char t[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &ia, t, sizeof t);
        fprintf(fr, "%s\n", t);
    }
    gen_close(fr, "fresh.txt");

    FILE *info = gen_open(dir, "gen.txt");
    fprintf(info,
            "entries %zu\nv4_32 %zu\nv4_prefix %zu\nv6_64 %zu\nv6_128 %zu\nseed %llu\n"
            "queries %zu\nq_v4_listed %zu\nq_v4_unlisted %zu\nq_v6_listed %zu\n"
            "q_v6_unlisted %zu\n",
            entries, n_32, n_pfx, n_64, n_128, (unsigned long long)seed, queries, nq[0][1],
            nq[0][0], nq[1][1], nq[1][0]);
    gen_close(info, "gen.txt");
    for (unsigned l = 0; l <= 32; l++)
        free(cover.nets[l]);
    free(v4);
    free(v6);
    return 0;
}
