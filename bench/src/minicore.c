/* minicore: a mixed workload in the spirit of CoreMark (written afresh, not
 * derived from its sources): each iteration walks, reverses and sorts a linked
 * list, runs small int16 matrix kernels, scans a text buffer with a number-
 * recognising state machine, and folds every result into a bit-wise CRC-16.
 * Measures the mix of pointer chasing, short loops and data-dependent branches
 * typical of embedded control code. */
#include "bench.h"

/* ---- CRC-16 (reflected polynomial 0xA001), bit by bit as small devices do ---- */
static uint16_t crc_byte(uint8_t b, uint16_t crc) {
    for (int i = 0; i < 8; i++) {
        unsigned mix = (crc ^ b) & 1u;
        crc >>= 1;
        if (mix) crc ^= 0xA001;
        b >>= 1;
    }
    return crc;
}

static uint16_t crc_u16(uint16_t v, uint16_t crc) {
    crc = crc_byte((uint8_t)v, crc);
    return crc_byte((uint8_t)(v >> 8), crc);
}

static uint16_t crc_u32(uint32_t v, uint16_t crc) {
    crc = crc_u16((uint16_t)v, crc);
    return crc_u16((uint16_t)(v >> 16), crc);
}

/* ---- linked list ---- */
#define LIST_N 200

struct node {
    struct node *next;
    int16_t idx, value;
};

static struct node nodes[LIST_N];

static struct node *list_build(uint32_t *seed) {
    for (int i = 0; i < LIST_N; i++) {
        nodes[i].idx = (int16_t)i;
        nodes[i].value = (int16_t)(bench_rand(seed) & 0x7fff);
        nodes[i].next = i + 1 < LIST_N ? &nodes[i + 1] : NULL;
    }
    return &nodes[0];
}

static struct node *list_reverse(struct node *head) {
    struct node *prev = NULL;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}

static int node_less(const struct node *a, const struct node *b, int by_value) {
    return by_value ? a->value < b->value : a->idx < b->idx;
}

/* Bottom-up merge sort of a singly linked list, no recursion. */
static struct node *list_sort(struct node *head, int by_value) {
    for (int width = 1;; width *= 2) {
        struct node *p = head, *tail = NULL;
        int merges = 0;
        head = NULL;
        while (p) {
            struct node *q = p;
            int psize = 0, qsize = width;
            merges++;
            while (psize < width && q) {
                psize++;
                q = q->next;
            }
            while (psize > 0 || (qsize > 0 && q)) {
                struct node *e;
                if (psize == 0) {
                    e = q;
                    q = q->next;
                    qsize--;
                } else if (qsize == 0 || !q) {
                    e = p;
                    p = p->next;
                    psize--;
                } else if (!node_less(q, p, by_value)) {
                    e = p;
                    p = p->next;
                    psize--;
                } else {
                    e = q;
                    q = q->next;
                    qsize--;
                }
                if (tail) tail->next = e;
                else head = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1) return head;
    }
}

static uint16_t list_work(uint32_t *seed, uint16_t crc) {
    struct node *head = list_build(seed);
    /* Find a few values: position of the first node at or above a key. */
    for (int k = 0; k < 8; k++) {
        int16_t key = (int16_t)(bench_rand(seed) & 0x7fff);
        int pos = 0;
        struct node *n = head;
        while (n && n->value < key) {
            n = n->next;
            pos++;
        }
        crc = crc_u16((uint16_t)pos, crc);
    }
    head = list_reverse(head);
    head = list_sort(head, 1);
    for (struct node *n = head; n; n = n->next) crc = crc_u16((uint16_t)n->value, crc);
    head = list_sort(head, 0);
    crc = crc_u16((uint16_t)head->idx, crc);
    return crc;
}

/* ---- small matrices ---- */
#define MAT_N 12

static uint16_t matrix_work(uint32_t *seed, uint16_t crc) {
    int16_t a[MAT_N][MAT_N], b[MAT_N][MAT_N], v[MAT_N];
    int32_t c[MAT_N][MAT_N], cv[MAT_N];
    for (int i = 0; i < MAT_N; i++) {
        v[i] = (int16_t)(bench_rand(seed) & 0xff) - 128;
        for (int j = 0; j < MAT_N; j++) {
            a[i][j] = (int16_t)((bench_rand(seed) & 0x3ff) - 512);
            b[i][j] = (int16_t)((bench_rand(seed) & 0x3ff) - 512);
        }
    }
    int16_t scalar = (int16_t)(bench_rand(seed) & 0x7f);
    uint32_t acc = 0;
    /* A += scalar, then C = A * scalar. */
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            a[i][j] = (int16_t)(a[i][j] + scalar);
            c[i][j] = (int32_t)a[i][j] * scalar;
            acc += (uint32_t)c[i][j];
        }
    crc = crc_u32(acc, crc);
    /* C = A * v */
    for (int i = 0; i < MAT_N; i++) {
        int32_t s = 0;
        for (int j = 0; j < MAT_N; j++) s += (int32_t)a[i][j] * v[j];
        cv[i] = s;
        crc = crc_u32((uint32_t)s, crc);
    }
    /* C = A * B, then extract bit fields of each element. */
    acc = 0;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t s = 0;
            for (int k = 0; k < MAT_N; k++) s += (int32_t)a[i][k] * b[k][j];
            c[i][j] = s;
            acc += ((uint32_t)s >> 3) & 0x3f;
            if (s > cv[i]) acc += 7;
        }
    return crc_u32(acc, crc);
}

/* ---- state machine: recognise integers, decimals and scientific numbers ---- */
enum state {
    ST_START,
    ST_SIGN,
    ST_INT,
    ST_DOT,
    ST_FRAC,
    ST_EXP,
    ST_EXP_SIGN,
    ST_SCI,
    ST_INVALID,
    ST_COUNT
};

#define TEXT_LEN 1200

static char scan_text[TEXT_LEN + 1];

static void text_build(uint32_t *seed) {
    static const char *const pieces[] = { "5012",  "1.23", "-874", "+122", "7.1e-3",  "abc", "-.5",
                                          "3e+19", "0x1f", "44.",  "9",    "6.02e23", "--1", "1e" };
    int n = 0;
    while (n < TEXT_LEN - 12) {
        const char *p = pieces[bench_rand(seed) % (sizeof pieces / sizeof pieces[0])];
        while (*p) scan_text[n++] = *p++;
        scan_text[n++] = ',';
    }
    scan_text[n] = 0;
}

static enum state next_state(enum state s, char c) {
    int digit = c >= '0' && c <= '9';
    switch (s) {
    case ST_START:
        if (digit) return ST_INT;
        if (c == '+' || c == '-') return ST_SIGN;
        if (c == '.') return ST_DOT;
        return ST_INVALID;
    case ST_SIGN:
        if (digit) return ST_INT;
        if (c == '.') return ST_DOT;
        return ST_INVALID;
    case ST_INT:
        if (digit) return ST_INT;
        if (c == '.') return ST_FRAC;
        if (c == 'e' || c == 'E') return ST_EXP;
        return ST_INVALID;
    case ST_DOT: return digit ? ST_FRAC : ST_INVALID;
    case ST_FRAC:
        if (digit) return ST_FRAC;
        if (c == 'e' || c == 'E') return ST_EXP;
        return ST_INVALID;
    case ST_EXP:
        if (digit) return ST_SCI;
        if (c == '+' || c == '-') return ST_EXP_SIGN;
        return ST_INVALID;
    case ST_EXP_SIGN:
    case ST_SCI: return digit ? ST_SCI : ST_INVALID;
    default: return ST_INVALID;
    }
}

static uint16_t scan_work(uint32_t *seed, uint16_t crc) {
    uint32_t finals[ST_COUNT] = { 0 }, transitions = 0;
    /* Corrupt a few bytes each iteration so the outcome changes. */
    for (int k = 0; k < 4; k++) {
        uint32_t at = bench_rand(seed) % (TEXT_LEN - 12);
        if (scan_text[at] != ',') scan_text[at] = (char)('0' + bench_rand(seed) % 10);
    }
    for (const char *p = scan_text; *p;) {
        enum state s = ST_START;
        while (*p && *p != ',') {
            enum state t = next_state(s, *p++);
            transitions += t != s;
            s = t;
        }
        finals[s]++;
        if (*p == ',') p++;
    }
    for (int i = 0; i < ST_COUNT; i++) crc = crc_u32(finals[i], crc);
    return crc_u32(transitions, crc);
}

int main(int argc, char **argv) {
    long iterations = bench_param(argc, argv, 45000);
    uint32_t seed = 0x66, text_seed = 0x77;
    uint16_t crc = 0;
    text_build(&text_seed);
    for (long it = 0; it < iterations; it++) {
        crc = list_work(&seed, crc);
        crc = matrix_work(&seed, crc);
        crc = scan_work(&seed, crc);
    }
    printf("minicore: %ld iterations, crc %04x\n", iterations, crc);
    return 0;
}
