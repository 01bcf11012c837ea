/* sortstr: string generation, merge sort of string pointers, and text
 * processing (joining, case folding, a naive substring search and per-word
 * reversal). Measures byte-wise loops, pointer chasing and unpredictable
 * comparisons. Sorting and comparison are written here so that every runner
 * executes the same algorithm rather than its libc's. */
#include "bench.h"

#define NWORDS 60000
#define MAXLEN 16

static char pool[NWORDS * (MAXLEN + 1)];
static char *words[NWORDS], *scratch[NWORDS];
static char text[NWORDS * (MAXLEN + 1) + 1];

static int compare(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

/* Bottom-up merge sort: stable, no recursion. */
static void sort_words(char **v, char **tmp, int n) {
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = compare(v[j], v[i]) < 0 ? v[j++] : v[i++];
            while (i < mid) tmp[k++] = v[i++];
            while (j < hi) tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
}

/* Words over a small alphabet so that many share prefixes. */
static void make_words(uint32_t *seed) {
    char *p = pool;
    for (int i = 0; i < NWORDS; i++) {
        int len = 3 + (int)(bench_rand(seed) % (MAXLEN - 2));
        words[i] = p;
        for (int j = 0; j < len; j++) *p++ = (char)('a' + bench_rand(seed) % 12);
        *p++ = 0;
    }
}

/* Counts non-overlapping occurrences of pat in s. */
static uint32_t count_matches(const char *s, const char *pat) {
    uint32_t count = 0;
    size_t m = strlen(pat);
    for (const char *p = s; *p; p++) {
        size_t k = 0;
        while (k < m && p[k] == pat[k]) k++;
        if (k == m) {
            count++;
            p += m - 1;
        }
    }
    return count;
}

static uint32_t round_checksum(uint32_t check) {
    /* Sort, then count distinct words. */
    sort_words(words, scratch, NWORDS);
    uint32_t distinct = 1;
    for (int i = 1; i < NWORDS; i++) distinct += compare(words[i - 1], words[i]) != 0;
    check = bench_mix(check, distinct);
    /* Join the sorted words with spaces, upper-casing vowels. */
    char *t = text;
    for (int i = 0; i < NWORDS; i++) {
        for (const char *w = words[i]; *w; w++) {
            char c = *w;
            *t++ = (c == 'a' || c == 'e' || c == 'i') ? (char)(c - 32) : c;
        }
        *t++ = ' ';
    }
    *t = 0;
    check = bench_mix(check, count_matches(text, "bAd"));
    check = bench_mix(check, count_matches(text, "ccc"));
    /* Reverse every word in place and hash the text. */
    for (char *s = text; *s;) {
        char *e = s;
        while (*e && *e != ' ') e++;
        for (char *l = s, *r = e - 1; l < r; l++, r--) {
            char c = *l;
            *l = *r;
            *r = c;
        }
        s = *e ? e + 1 : e;
    }
    uint32_t h = BENCH_SEED;
    for (const char *s = text; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return bench_mix(check, h);
}

int main(int argc, char **argv) {
    long rounds = bench_param(argc, argv, 75);
    uint32_t seed = 2024, check = BENCH_SEED;
    for (long r = 0; r < rounds; r++) {
        make_words(&seed);
        check = round_checksum(check);
    }
    printf("sortstr: %d words, %ld rounds, checksum %08x\n", NWORDS, rounds, check);
    return 0;
}
