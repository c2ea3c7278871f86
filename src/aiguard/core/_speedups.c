/* aiguard.core._speedups: optional compiled versions of the matcher's hot loops, in
 * fingerprint.py (tokens, keyed digests, k-gram hashes, masks, winnowing), store/fpindex.py
 * (index look-ups) and attribution.py (chains, coverage, the searches for inserted lines).
 *
 * Everything here computes exactly what the pure-Python reference computes
 * (tests/core/test_speedups.py checks each function against it): the same tokens, the same
 * keyed BLAKE2b digests, the same k-gram hashes, the same placements. The package uses this
 * module when it imports and AIGUARD_PURE_PYTHON is not set; without a compiler it installs
 * without it.
 *
 * One shape throughout: arguments parsed into C arrays (new_array, int_array, pair_array,
 * digest_word), the loop over them, Python objects built at the end (ll_list, ll_tuple,
 * dict_list, ...), and one exit that frees everything; an error is a NULL (or -1) with the
 * exception set, as Python's own indexing would raise it (py_index).
 *
 * BLAKE2b is written from RFC 7693 (keyed, one 64-bit output word: digest_size 8).
 * Messages are whole in memory, so there is no streaming state: the state after the key
 * block is computed once per call and each message costs one compression per 128 bytes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* PyList_Append of a new reference, which it consumes: the item is released whether the
 * append succeeds or not (an item that is NULL, a failed call, is an error too). */
static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* Python objects from C arrays: a list or tuple of ints, an int added to a set. NULL or
 * -1 with an error set. */
static PyObject *ll_list(const long long *values, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyLong_FromLongLong(values[i]);
        if (v == NULL) Py_CLEAR(out); else PyList_SET_ITEM(out, i, v);
    }
    return out;
}

static PyObject *ll_tuple(const long long *values, Py_ssize_t n) {
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyLong_FromLongLong(values[i]);
        if (v == NULL) Py_CLEAR(out); else PyTuple_SET_ITEM(out, i, v);
    }
    return out;
}

/* A new (a, b) tuple of ints. */
static PyObject *ll_pair(long long a, long long b) {
    long long both[2] = {a, b};
    return ll_tuple(both, 2);
}

static int ll_set_add(PyObject *set, long long value) {
    PyObject *v = PyLong_FromLongLong(value);
    int rc = v == NULL ? -1 : PySet_Add(set, v);
    Py_XDECREF(v);
    return rc;
}

/* dict.setdefault(key, []) (borrowed), without defaultdict's __missing__. */
static PyObject *dict_list(PyObject *dict, PyObject *key) {
    PyObject *list = PyDict_GetItemWithError(dict, key);
    if (list != NULL || PyErr_Occurred()) return list;
    list = PyList_New(0);
    if (list == NULL) return NULL;
    int rc = PyDict_SetItem(dict, key, list);
    Py_DECREF(list); /* the dict holds it */
    return rc < 0 ? NULL : list;
}

/* PyMem room for n items of itemsize bytes (at least one item: n may be 0), or NULL with
 * MemoryError set. Every array below comes from here. */
static void *new_array(long long n, size_t itemsize) {
    void *out = PyMem_Malloc((size_t)(n > 0 ? n : 1) * itemsize);
    if (out == NULL) PyErr_NoMemory();
    return out;
}

static long long *ll_alloc(long long n) { return new_array(n, sizeof(long long)); }

/* Python's indexing of a sequence of length n: i, or i + n when negative; -1 with
 * IndexError when that is still outside [0, n). */
static int py_index(long long i, Py_ssize_t n, Py_ssize_t *out) {
    if (i < 0) i += n;
    if (i < 0 || i >= n) {
        PyErr_SetString(PyExc_IndexError, "list index out of range");
        return -1;
    }
    *out = (Py_ssize_t)i;
    return 0;
}

/* A Python int as a signed 64-bit value. PyLong_AsLongLong converts every int of more
 * than one 30-bit digit (every hash) through a byte array; the digits are read directly
 * here. -1 with OverflowError (or the TypeError of a non-int) set. */
static int as_int64(PyObject *obj, int64_t *out) {
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long long");
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

/* ---- BLAKE2b (RFC 7693) ------------------------------------------------------------ */

static const uint64_t B2_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const uint8_t *p) {
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24)
        | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static inline void store64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#define B2_G(a, b, c, d, x, y)           \
    do {                                 \
        a = a + b + (x);                 \
        d = rotr64(d ^ a, 32);           \
        c = c + d;                       \
        b = rotr64(b ^ c, 24);           \
        a = a + b + (y);                 \
        d = rotr64(d ^ a, 16);           \
        c = c + d;                       \
        b = rotr64(b ^ c, 63);           \
    } while (0)

/* One compression: h is updated in place from the 16 message words m. t is the byte
 * count so far (below 2^64 here), last marks the final block. */
static void b2_compress(uint64_t h[8], const uint64_t m[16], uint64_t t, int last) {
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
    uint64_t v8 = B2_IV[0], v9 = B2_IV[1], v10 = B2_IV[2], v11 = B2_IV[3];
    uint64_t v12 = B2_IV[4] ^ t, v13 = B2_IV[5], v14 = last ? ~B2_IV[6] : B2_IV[6], v15 = B2_IV[7];
    /* The rounds written out, so that the message schedule is constant indices. */
#define B2_ROUND(r)                                                   \
    do {                                                              \
        B2_G(v0, v4, v8, v12, m[B2_SIGMA[r][0]], m[B2_SIGMA[r][1]]);  \
        B2_G(v1, v5, v9, v13, m[B2_SIGMA[r][2]], m[B2_SIGMA[r][3]]);  \
        B2_G(v2, v6, v10, v14, m[B2_SIGMA[r][4]], m[B2_SIGMA[r][5]]); \
        B2_G(v3, v7, v11, v15, m[B2_SIGMA[r][6]], m[B2_SIGMA[r][7]]); \
        B2_G(v0, v5, v10, v15, m[B2_SIGMA[r][8]], m[B2_SIGMA[r][9]]); \
        B2_G(v1, v6, v11, v12, m[B2_SIGMA[r][10]], m[B2_SIGMA[r][11]]); \
        B2_G(v2, v7, v8, v13, m[B2_SIGMA[r][12]], m[B2_SIGMA[r][13]]); \
        B2_G(v3, v4, v9, v14, m[B2_SIGMA[r][14]], m[B2_SIGMA[r][15]]); \
    } while (0)
    B2_ROUND(0); B2_ROUND(1); B2_ROUND(2); B2_ROUND(3); B2_ROUND(4); B2_ROUND(5);
    B2_ROUND(6); B2_ROUND(7); B2_ROUND(8); B2_ROUND(9); B2_ROUND(10); B2_ROUND(11);
#undef B2_ROUND
    h[0] ^= v0 ^ v8; h[1] ^= v1 ^ v9; h[2] ^= v2 ^ v10; h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12; h[5] ^= v5 ^ v13; h[6] ^= v6 ^ v14; h[7] ^= v7 ^ v15;
}

/* A key, set up: the state after the (non-final) key block, and the digest of the empty
 * message (where the key block is the final one). Output length is fixed at 8 bytes. */
typedef struct {
    uint64_t h[8];
    uint64_t empty;
} Keyed;

static int keyed_setup(Keyed *ks, PyObject *key) {
    char *kp;
    Py_ssize_t kl;
    if (PyBytes_AsStringAndSize(key, &kp, &kl) < 0) return -1;
    if (kl < 1 || kl > 64) {
        PyErr_SetString(PyExc_ValueError, "key must be 1 to 64 bytes");
        return -1;
    }
    uint8_t block[128] = {0};
    memcpy(block, kp, (size_t)kl);
    uint64_t m[16];
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    uint64_t h[8];
    memcpy(h, B2_IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ ((uint64_t)kl << 8) ^ 8ULL; /* digest_length 8, key length kl */
    memcpy(ks->h, h, sizeof h);
    b2_compress(ks->h, m, 128, 0);
    b2_compress(h, m, 128, 1);
    ks->empty = h[0];
    return 0;
}

/* The digest (as its little-endian 64-bit word) of a message of bytes. */
static uint64_t keyed_bytes(const Keyed *ks, const uint8_t *msg, size_t len) {
    if (len == 0) return ks->empty;
    uint64_t h[8], m[16];
    memcpy(h, ks->h, sizeof h);
    uint64_t t = 128;
    while (len > 128) {
        for (int i = 0; i < 16; i++) m[i] = load64(msg + 8 * i);
        t += 128;
        b2_compress(h, m, t, 0);
        msg += 128;
        len -= 128;
    }
    uint8_t block[128] = {0};
    memcpy(block, msg, len);
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    b2_compress(h, m, t + len, 1);
    return h[0];
}

/* The digest of a message given as 64-bit words (the concatenated 8-byte token digests). */
static uint64_t keyed_words(const Keyed *ks, const uint64_t *words, Py_ssize_t count) {
    if (count == 0) return ks->empty;
    uint64_t h[8], m[16];
    memcpy(h, ks->h, sizeof h);
    uint64_t t = 128;
    while (count > 16) {
        t += 128;
        b2_compress(h, words, t, 0);
        words += 16;
        count -= 16;
    }
    memset(m, 0, sizeof m);
    memcpy(m, words, (size_t)count * 8);
    b2_compress(h, m, t + 8 * (uint64_t)count, 1);
    return h[0];
}

/* Four single-block messages of `count` words (1 to 16) at once, one per 64-bit lane of
 * AVX2 registers: the same arithmetic as b2_compress, four times over. x86-64 with GCC or
 * Clang only, and used only when the CPU has AVX2 (checked at run time). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define AG_HAVE_AVX2_CODE 1
#include <immintrin.h>

__attribute__((target("avx2"))) static void b2_four(const Keyed *ks, const uint64_t *const msg[4],
                                                    Py_ssize_t count, uint64_t out[4]) {
    __m256i m[16];
    for (int j = 0; j < 16; j++) {
        m[j] = j < count ? _mm256_set_epi64x((long long)msg[3][j], (long long)msg[2][j], (long long)msg[1][j],
                                             (long long)msg[0][j])
                         : _mm256_setzero_si256();
    }
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                         3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                         2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    __m256i v0 = _mm256_set1_epi64x((long long)ks->h[0]), v1 = _mm256_set1_epi64x((long long)ks->h[1]);
    __m256i v2 = _mm256_set1_epi64x((long long)ks->h[2]), v3 = _mm256_set1_epi64x((long long)ks->h[3]);
    __m256i v4 = _mm256_set1_epi64x((long long)ks->h[4]), v5 = _mm256_set1_epi64x((long long)ks->h[5]);
    __m256i v6 = _mm256_set1_epi64x((long long)ks->h[6]), v7 = _mm256_set1_epi64x((long long)ks->h[7]);
    __m256i v8 = _mm256_set1_epi64x((long long)B2_IV[0]), v9 = _mm256_set1_epi64x((long long)B2_IV[1]);
    __m256i v10 = _mm256_set1_epi64x((long long)B2_IV[2]), v11 = _mm256_set1_epi64x((long long)B2_IV[3]);
    __m256i v12 = _mm256_set1_epi64x((long long)(B2_IV[4] ^ (128 + 8 * (uint64_t)count)));
    __m256i v13 = _mm256_set1_epi64x((long long)B2_IV[5]);
    __m256i v14 = _mm256_set1_epi64x((long long)~B2_IV[6]), v15 = _mm256_set1_epi64x((long long)B2_IV[7]);
    const __m256i h0 = v0;
#define V_ROT32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define V_ROT63(x) _mm256_xor_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))
#define V_G(a, b, c, d, x, y)                                                         \
    do {                                                                              \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), (x));                            \
        d = V_ROT32(_mm256_xor_si256(d, a));                                          \
        c = _mm256_add_epi64(c, d);                                                   \
        b = _mm256_shuffle_epi8(_mm256_xor_si256(b, c), r24);                         \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), (y));                            \
        d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), r16);                         \
        c = _mm256_add_epi64(c, d);                                                   \
        b = V_ROT63(_mm256_xor_si256(b, c));                                          \
    } while (0)
#define V_ROUND(r)                                                      \
    do {                                                                \
        V_G(v0, v4, v8, v12, m[B2_SIGMA[r][0]], m[B2_SIGMA[r][1]]);     \
        V_G(v1, v5, v9, v13, m[B2_SIGMA[r][2]], m[B2_SIGMA[r][3]]);     \
        V_G(v2, v6, v10, v14, m[B2_SIGMA[r][4]], m[B2_SIGMA[r][5]]);    \
        V_G(v3, v7, v11, v15, m[B2_SIGMA[r][6]], m[B2_SIGMA[r][7]]);    \
        V_G(v0, v5, v10, v15, m[B2_SIGMA[r][8]], m[B2_SIGMA[r][9]]);    \
        V_G(v1, v6, v11, v12, m[B2_SIGMA[r][10]], m[B2_SIGMA[r][11]]);  \
        V_G(v2, v7, v8, v13, m[B2_SIGMA[r][12]], m[B2_SIGMA[r][13]]);   \
        V_G(v3, v4, v9, v14, m[B2_SIGMA[r][14]], m[B2_SIGMA[r][15]]);   \
    } while (0)
    V_ROUND(0); V_ROUND(1); V_ROUND(2); V_ROUND(3); V_ROUND(4); V_ROUND(5);
    V_ROUND(6); V_ROUND(7); V_ROUND(8); V_ROUND(9); V_ROUND(10); V_ROUND(11);
#undef V_ROUND
#undef V_G
#undef V_ROT63
#undef V_ROT32
    /* Only the first output word is wanted (digest_size 8). */
    __m256i first = _mm256_xor_si256(h0, _mm256_xor_si256(v0, v8));
    _mm256_storeu_si256((__m256i *)out, first);
}

static int cpu_has_avx2(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known;
}
#endif

/* Digests of many word-slices (start[i], count[i]) of words, four at a time where AVX2 can. */
static void keyed_batch(const Keyed *ks, const uint64_t *words, const Py_ssize_t *start, const Py_ssize_t *count,
                        Py_ssize_t n, uint64_t *out) {
    Py_ssize_t i = 0;
#ifdef AG_HAVE_AVX2_CODE
    if (cpu_has_avx2()) {
        while (i + 4 <= n) {
            Py_ssize_t c = count[i];
            if (c >= 1 && c <= 16 && count[i + 1] == c && count[i + 2] == c && count[i + 3] == c) {
                const uint64_t *msg[4] = {words + start[i], words + start[i + 1], words + start[i + 2],
                                          words + start[i + 3]};
                b2_four(ks, msg, c, out + i);
                i += 4;
            } else {
                out[i] = keyed_words(ks, words + start[i], count[i]);
                i++;
            }
        }
    }
#endif
    for (; i < n; i++) out[i] = keyed_words(ks, words + start[i], count[i]);
}

static PyObject *digest_bytes(uint64_t value) {
    uint8_t out[8];
    store64(out, value);
    return PyBytes_FromStringAndSize((const char *)out, 8);
}

/* The UTF-8 bytes of a str, as str.encode("utf-8", "surrogatepass") gives them.
 * *owner receives a new reference to keep alive (or NULL for ASCII, read in place). */
static const uint8_t *utf8_of(PyObject *text, Py_ssize_t *len, PyObject **owner) {
    *owner = NULL;
    if (PyUnicode_IS_ASCII(text)) {
        *len = PyUnicode_GET_LENGTH(text);
        return PyUnicode_1BYTE_DATA(text);
    }
    PyObject *encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
    if (encoded == NULL) return NULL;
    *owner = encoded;
    *len = PyBytes_GET_SIZE(encoded);
    return (const uint8_t *)PyBytes_AS_STRING(encoded);
}

/* Digest of prefix (0 to 2 bytes) + UTF-8 of text. */
static int digest_of_text(const Keyed *ks, const char *prefix, size_t plen, PyObject *text, uint64_t *out) {
    Py_ssize_t len;
    PyObject *owner;
    const uint8_t *data = utf8_of(text, &len, &owner);
    if (data == NULL) return -1;
    size_t total = plen + (size_t)len;
    uint8_t stack[256];
    uint8_t *buf = total <= sizeof stack ? stack : PyMem_Malloc(total);
    if (buf == NULL) {
        Py_XDECREF(owner);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, data, (size_t)len);
    *out = keyed_bytes(ks, buf, total);
    if (buf != stack) PyMem_Free(buf);
    Py_XDECREF(owner);
    return 0;
}

/* text_digests(key, texts, cache) -> list[bytes]: keyed digests of UTF-8 texts, cached in
 * `cache` (text -> digest) as Hasher.text_digests does. */
static PyObject *sp_text_digests(PyObject *self, PyObject *args) {
    PyObject *key, *texts, *cache;
    if (!PyArg_ParseTuple(args, "SOO!", &key, &texts, &PyDict_Type, &cache)) return NULL;
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            goto fail;
        }
        PyObject *digest = PyDict_GetItemWithError(cache, text);
        if (digest != NULL) {
            Py_INCREF(digest);
        } else {
            if (PyErr_Occurred()) goto fail;
            uint64_t value;
            if (digest_of_text(&ks, "", 0, text, &value) < 0) goto fail;
            digest = digest_bytes(value);
            if (digest == NULL || PyDict_SetItem(cache, text, digest) < 0) {
                Py_XDECREF(digest);
                goto fail;
            }
        }
        PyList_SET_ITEM(out, i, digest);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_XDECREF(out);
    return NULL;
}

/* Token kinds and streams, as in fingerprint.py. */
enum { K_IDENT, K_KEYWORD, K_NUMBER, K_STRING, K_OP, K_COMMENT, K_KINDS };
enum { S_RAW, S_ABSTRACT };
#define N_CACHES (K_KINDS + 2) /* raw per kind, abstract kept text, abstract placeholders */

/* token_digests(key, tokens, stream, caches) -> list[bytes]: Hasher.token_digests.
 * caches: a list of N_CACHES dicts owned by the Hasher (token text -> digest): raw
 * digests per kind, abstract "\x02" + text, and the abstract V/S/N placeholders. */
static PyObject *sp_token_digests(PyObject *self, PyObject *args) {
    PyObject *key, *tokens, *caches;
    int stream;
    if (!PyArg_ParseTuple(args, "SOiO!", &key, &tokens, &stream, &PyList_Type, &caches)) return NULL;
    if (PyList_GET_SIZE(caches) != N_CACHES) {
        PyErr_SetString(PyExc_ValueError, "wrong number of caches");
        return NULL;
    }
    for (int c = 0; c < N_CACHES; c++) {
        if (!PyDict_Check(PyList_GET_ITEM(caches, c))) {
            PyErr_SetString(PyExc_TypeError, "caches must be dicts");
            return NULL;
        }
    }
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    PyObject *seq = PySequence_Fast(tokens, "tokens must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) goto fail;
    /* The abstract placeholders, looked up once per call. */
    PyObject *placeholder[K_KINDS] = {NULL};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *token = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(token) || PyTuple_GET_SIZE(token) < 2) {
            PyErr_SetString(PyExc_TypeError, "tokens must be Token tuples");
            goto fail;
        }
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(token, 0));
        if (kind == -1 && PyErr_Occurred()) goto fail;
        if (kind < 0 || kind >= K_KINDS) {
            PyErr_SetString(PyExc_ValueError, "unknown token kind");
            goto fail;
        }
        PyObject *text = PyTuple_GET_ITEM(token, 1);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "token text must be str");
            goto fail;
        }
        PyObject *digest;
        if (stream == S_ABSTRACT && (kind == K_IDENT || kind == K_STRING || kind == K_NUMBER)) {
            digest = placeholder[kind];
            if (digest == NULL) {
                uint64_t value;
                const char *tag = kind == K_IDENT ? "\x01V" : kind == K_STRING ? "\x01S" : "\x01N";
                PyObject *cache = PyList_GET_ITEM(caches, K_KINDS + 1);
                PyObject *name = PyLong_FromLong(kind);
                if (name == NULL) goto fail;
                digest = PyDict_GetItemWithError(cache, name);
                if (digest == NULL) {
                    if (PyErr_Occurred()) { Py_DECREF(name); goto fail; }
                    value = keyed_bytes(&ks, (const uint8_t *)tag, 2);
                    digest = digest_bytes(value);
                    if (digest == NULL || PyDict_SetItem(cache, name, digest) < 0) {
                        Py_XDECREF(digest);
                        Py_DECREF(name);
                        goto fail;
                    }
                    Py_DECREF(digest); /* the cache holds it */
                }
                Py_DECREF(name);
                placeholder[kind] = digest;
            }
            Py_INCREF(digest);
        } else {
            int slot = stream == S_ABSTRACT ? K_KINDS : (int)kind;
            PyObject *cache = PyList_GET_ITEM(caches, slot);
            digest = PyDict_GetItemWithError(cache, text);
            if (digest != NULL) {
                Py_INCREF(digest);
            } else {
                if (PyErr_Occurred()) goto fail;
                char prefix = stream == S_ABSTRACT ? 0x02 : (char)(0x10 + kind);
                uint64_t value;
                if (digest_of_text(&ks, &prefix, 1, text, &value) < 0) goto fail;
                digest = digest_bytes(value);
                if (digest == NULL || PyDict_SetItem(cache, text, digest) < 0) {
                    Py_XDECREF(digest);
                    goto fail;
                }
            }
        }
        PyList_SET_ITEM(out, i, digest);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_XDECREF(out);
    return NULL;
}

/* One 8-byte digest as its word, or -1 with ValueError. */
static int digest_word(PyObject *d, uint64_t *out) {
    if (!PyBytes_Check(d) || PyBytes_GET_SIZE(d) != 8) {
        PyErr_SetString(PyExc_ValueError, "digests must be 8-byte bytes");
        return -1;
    }
    *out = load64((const uint8_t *)PyBytes_AS_STRING(d));
    return 0;
}

/* The words of a list of 8-byte digests (a new PyMem buffer), or NULL with an error set. */
static uint64_t *digest_words(PyObject *digests, Py_ssize_t *count) {
    PyObject *seq = PySequence_Fast(digests, "digests must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint64_t *words = new_array(n, sizeof(uint64_t));
    if (words == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (digest_word(PySequence_Fast_GET_ITEM(seq, i), &words[i]) < 0) {
            PyMem_Free(words);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *count = n;
    return words;
}

/* Python's slice bounds [start:stop] on a sequence of length n (step 1). */
static void slice_bounds(Py_ssize_t n, Py_ssize_t *start, Py_ssize_t *stop) {
    Py_ssize_t a = *start, b = *stop;
    if (a < 0) { a += n; if (a < 0) a = 0; } else if (a > n) a = n;
    if (b < 0) { b += n; if (b < 0) b = 0; } else if (b > n) b = n;
    if (b < a) b = a;
    *start = a;
    *stop = b;
}

/* kgram_hashes(key, digests, k, positions) -> {position: signed 64-bit hash}.
 * positions: an iterable of ints, or None for every k-gram. A position reads the words
 * joined[8i:8i+8k] would (slicing rules: near the end the k-gram is shorter). */
static PyObject *sp_kgram_hashes(PyObject *self, PyObject *args) {
    PyObject *key, *digests, *positions;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "SOnO", &key, &digests, &k, &positions)) return NULL;
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    Py_ssize_t n;
    uint64_t *words = digest_words(digests, &n);
    if (words == NULL) return NULL;
    PyObject *out = NULL, *seq = NULL;
    Py_ssize_t *start = NULL, *count = NULL;
    uint64_t *values = NULL;
    Py_ssize_t m;
    if (positions == Py_None) {
        m = n - k + 1 > 0 ? n - k + 1 : 0;
    } else {
        seq = PySequence_Fast(positions, "positions must be iterable");
        if (seq == NULL) goto fail;
        m = PySequence_Fast_GET_SIZE(seq);
    }
    start = new_array(m, sizeof(Py_ssize_t));
    count = new_array(m, sizeof(Py_ssize_t));
    values = new_array(m, sizeof(uint64_t));
    if (start == NULL || count == NULL || values == NULL) goto fail;
    for (Py_ssize_t j = 0; j < m; j++) {
        Py_ssize_t i = j;
        if (seq != NULL) {
            i = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(seq, j), PyExc_OverflowError);
            if (i == -1 && PyErr_Occurred()) goto fail;
        }
        /* The byte slice [8i:8i+8k] of the joined digests, in words. */
        Py_ssize_t a = i, b = i + k;
        if (a < 0 || b < 0) {
            /* Negative byte offsets count from the end in bytes; whole words either way. */
            a = 8 * i;
            b = 8 * (i + k);
            slice_bounds(8 * n, &a, &b);
            a /= 8;
            b /= 8;
        } else {
            slice_bounds(n, &a, &b);
        }
        start[j] = a;
        count[j] = b - a;
    }
    keyed_batch(&ks, words, start, count, m, values);
    out = PyDict_New();
    if (out == NULL) goto fail;
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *pos = seq != NULL ? Py_NewRef(PySequence_Fast_GET_ITEM(seq, j)) : PyLong_FromSsize_t(j);
        PyObject *value = pos ? PyLong_FromLongLong((long long)(int64_t)values[j]) : NULL;
        if (value == NULL || PyDict_SetItem(out, pos, value) < 0) {
            Py_XDECREF(pos);
            Py_XDECREF(value);
            goto fail;
        }
        Py_DECREF(pos);
        Py_DECREF(value);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(seq);
    PyMem_Free(start);
    PyMem_Free(count);
    PyMem_Free(values);
    PyMem_Free(words);
    return out;
}

/* span_hashes(key, digests, spans) -> [signed 64-bit hash of digests[a:b] joined]. */
static PyObject *sp_span_hashes(PyObject *self, PyObject *args) {
    PyObject *key, *digests, *spans;
    if (!PyArg_ParseTuple(args, "SOO", &key, &digests, &spans)) return NULL;
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    Py_ssize_t n;
    uint64_t *words = digest_words(digests, &n);
    if (words == NULL) return NULL;
    PyObject *out = PyList_New(0);
    PyObject *seq = out ? PySequence_Fast(spans, "spans must be iterable") : NULL;
    if (seq == NULL) goto fail;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t j = 0; j < m; j++) {
        Py_ssize_t a, b;
        PyObject *span = PySequence_Fast_GET_ITEM(seq, j);
        if (!PyTuple_Check(span) || PyTuple_GET_SIZE(span) != 2) {
            PyErr_SetString(PyExc_TypeError, "spans must be (start, end) tuples");
            goto fail;
        }
        a = PyNumber_AsSsize_t(PyTuple_GET_ITEM(span, 0), PyExc_OverflowError);
        if (a == -1 && PyErr_Occurred()) goto fail;
        b = PyNumber_AsSsize_t(PyTuple_GET_ITEM(span, 1), PyExc_OverflowError);
        if (b == -1 && PyErr_Occurred()) goto fail;
        slice_bounds(n, &a, &b);
        PyObject *value = PyLong_FromLongLong((long long)(int64_t)keyed_words(&ks, words + a, b - a));
        if (append_new(out, value) < 0) goto fail;
    }
    Py_DECREF(seq);
    PyMem_Free(words);
    return out;
fail:
    Py_XDECREF(seq);
    Py_XDECREF(out);
    PyMem_Free(words);
    return NULL;
}

/* fingerprint.low_complexity of one k-gram's words g[0:len] (len <= k: a slice near the
 * end is shorter): it repeats with a period of at most k // 2. */
static int periodic(const uint64_t *g, Py_ssize_t len, Py_ssize_t k) {
    Py_ssize_t half = k / 2, distinct = 0;
    /* A period-p k-gram has at most p distinct tokens: more than k // 2 and it is not one. */
    for (Py_ssize_t x = 0; x < len && distinct <= half; x++) {
        Py_ssize_t y = 0;
        while (y < x && g[y] != g[x]) y++;
        distinct += y == x;
    }
    if (distinct > half) return 0;
    for (Py_ssize_t period = 1; period <= half; period++) {
        /* gram[period:] == gram[:-period], with slice rules when period >= len. */
        Py_ssize_t shift = period < len ? period : len;
        Py_ssize_t j = 0;
        while (j + shift < len && g[j] == g[j + shift]) j++;
        if (j + shift >= len) return 1;
    }
    return 0;
}

/* low_complexity_mask(digests, k) -> bytes: 1 at each k-gram start i (0 .. n - k) where
 * fingerprint.low_complexity(digests, i, k) is true (the k-gram repeats with a short period). */
static PyObject *sp_low_complexity_mask(PyObject *self, PyObject *args) {
    PyObject *digests;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "On", &digests, &k)) return NULL;
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "k must be positive");
        return NULL;
    }
    Py_ssize_t n;
    uint64_t *words = digest_words(digests, &n);
    if (words == NULL) return NULL;
    Py_ssize_t grams = n - k + 1 > 0 ? n - k + 1 : 0;
    PyObject *out = PyBytes_FromStringAndSize(NULL, grams);
    if (out == NULL) {
        PyMem_Free(words);
        return NULL;
    }
    char *mask = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < grams; i++) mask[i] = (char)periodic(words + i, k, k);
    PyMem_Free(words);
    return out;
}

/* winnow(hashes, n_grams, w) -> [(position, hash)]: fingerprint.winnow (robust winnowing). */
static PyObject *sp_winnow(PyObject *self, PyObject *args) {
    PyObject *hashes;
    Py_ssize_t n, w;
    if (!PyArg_ParseTuple(args, "O!nn", &PyDict_Type, &hashes, &n, &w)) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL || n <= 0) return out;
    if (n < w) w = n;
    if (w < 1) return out; /* no window: nothing selected, as in the reference */
    int64_t *value = PyMem_Malloc((size_t)n * sizeof(int64_t));
    char *has = PyMem_Calloc((size_t)n, 1);
    if (value == NULL || has == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t it = 0;
    PyObject *key, *val;
    while (PyDict_Next(hashes, &it, &key, &val)) {
        if (!PyLong_CheckExact(key) || !PyLong_CheckExact(val)) {
            PyErr_SetString(PyExc_TypeError, "hashes must map int positions to int hashes");
            goto fail;
        }
        int overflow;
        long long pos = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (overflow || pos < 0 || pos >= n) continue; /* never looked at */
        long long v = PyLong_AsLongLong(val);
        if (v == -1 && PyErr_Occurred()) goto fail;
        value[pos] = (int64_t)v;
        has[pos] = 1;
    }
    Py_ssize_t last = -1;
    for (Py_ssize_t start = 0; start + w <= n; start++) {
        Py_ssize_t best_pos = -1;
        for (Py_ssize_t pos = start; pos < start + w; pos++) {
            if (has[pos] && (best_pos < 0 || value[pos] <= value[best_pos])) best_pos = pos;
        }
        if (best_pos < 0) continue;
        if (last >= start && value[last] == value[best_pos]) continue; /* keep the earlier choice */
        if (best_pos != last) {
            PyObject *pair = Py_BuildValue("(nL)", best_pos, (long long)value[best_pos]);
            if (append_new(out, pair) < 0) goto fail;
            last = best_pos;
        }
    }
    PyMem_Free(value);
    PyMem_Free(has);
    return out;
fail:
    PyMem_Free(value);
    PyMem_Free(has);
    Py_DECREF(out);
    return NULL;
}

/* ---- The tokenizer ------------------------------------------------------------------
 * The regular expression of fingerprint._token_re, by hand: at each position the
 * alternatives are tried in the pattern's order (newline, comment, string, number,
 * identifier, operator) and the first that matches wins; a position nothing matches at
 * (whitespace) is skipped. Character classes are those of Python's re for str patterns:
 * \s Py_UNICODE_ISSPACE, \d Py_UNICODE_ISDECIMAL, \w Py_UNICODE_ISALNUM or '_'. */

enum { SYN_HASH, SYN_CLIKE, SYN_DASH, SYN_GENERIC };

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n;
} Text;

#define CH(t, i) ((Py_UCS4)PyUnicode_READ((t)->kind, (t)->data, (i)))

/* ASCII by table (most code is), the rest by Python's own Unicode database. */
static inline int is_word(Py_UCS4 c) {
    if (c < 128) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    return Py_UNICODE_ISALNUM(c);
}
static inline int is_decimal(Py_UCS4 c) { return c < 128 ? (c >= '0' && c <= '9') : Py_UNICODE_ISDECIMAL(c); }
static inline int is_space(Py_UCS4 c) {
    if (c < 128) return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
    return Py_UNICODE_ISSPACE(c);
}
static inline int is_ascii_alpha(Py_UCS4 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline int is_hex_(Py_UCS4 c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '_';
}

static Py_ssize_t line_end(const Text *t, Py_ssize_t i) {
    while (i < t->n && CH(t, i) != '\n') i++;
    return i;
}

/* The end of the first `a b` (two characters) at or after i, or -1. */
static Py_ssize_t find_pair(const Text *t, Py_ssize_t i, Py_UCS4 a, Py_UCS4 b) {
    for (; i + 1 < t->n; i++) {
        if (CH(t, i) == a && CH(t, i + 1) == b) return i + 2;
    }
    return -1;
}

static int starts_with(const Text *t, Py_ssize_t p, const char *s) {
    for (; *s; s++, p++) {
        if (p >= t->n || CH(t, p) != (Py_UCS4)(unsigned char)*s) return 0;
    }
    return 1;
}

/* End of a comment starting at p, or -1. */
static Py_ssize_t match_comment(const Text *t, Py_ssize_t p, int syntax) {
    Py_UCS4 c = CH(t, p);
    Py_UCS4 next = p + 1 < t->n ? CH(t, p + 1) : 0;
    switch (syntax) {
    case SYN_HASH:
        return c == '#' ? line_end(t, p) : -1;
    case SYN_CLIKE:
        if (c == '/' && next == '/') return line_end(t, p);
        if (c == '/' && next == '*') return find_pair(t, p + 2, '*', '/');
        return -1;
    case SYN_DASH:
        if (c == '-' && next == '-') return line_end(t, p);
        if (c == '{' && next == '-') {
            Py_ssize_t end = find_pair(t, p + 2, '-', '}');
            if (end >= 0) return end;
        }
        if (c == '/' && next == '*') return find_pair(t, p + 2, '*', '/');
        return -1;
    default: /* SYN_GENERIC */
        if (c == '/' && next == '*') {
            Py_ssize_t end = find_pair(t, p + 2, '*', '/');
            if (end >= 0) return end;
        }
        if (p == 0 || CH(t, p - 1) == '\n') {
            Py_ssize_t q = p;
            while (q < t->n && (CH(t, q) == ' ' || CH(t, q) == '\t')) q++;
            if (q < t->n) {
                Py_UCS4 d = CH(t, q), e = q + 1 < t->n ? CH(t, q + 1) : 0;
                if ((d == '/' && e == '/') || (d == '#' && !(e >= 'a' && e <= 'z'))) return line_end(t, q);
            }
        }
        return -1;
    }
}

static int is_prefix_char(Py_UCS4 c) {
    return c == 'r' || c == 'R' || c == 'b' || c == 'B' || c == 'u' || c == 'U' || c == 'f' || c == 'F';
}

/* End of a string literal starting at p, or -1; *body_start and *body_end get its content. */
static Py_ssize_t match_string(const Text *t, Py_ssize_t p, Py_ssize_t *body_start, Py_ssize_t *body_end) {
    int most = 0;
    while (most < 2 && p + most < t->n && is_prefix_char(CH(t, p + most))) most++;
    for (int len = most; len >= 0; len--) {
        Py_ssize_t s = p + len;
        if (s >= t->n) continue;
        Py_UCS4 q = CH(t, s);
        if (q == '"' || q == '\'') {
            if (s + 2 < t->n && CH(t, s + 1) == q && CH(t, s + 2) == q) {
                for (Py_ssize_t i = s + 3; i + 2 < t->n; i++) {
                    if (CH(t, i) == q && CH(t, i + 1) == q && CH(t, i + 2) == q) {
                        *body_start = s + 3;
                        *body_end = i;
                        return i + 3;
                    }
                }
            }
            Py_ssize_t i = s + 1;
            while (i < t->n) {
                Py_UCS4 c = CH(t, i);
                if (c == '\\') {
                    if (i + 1 < t->n && CH(t, i + 1) != '\n') { i += 2; continue; }
                    break;
                }
                if (c == q || c == '\n') break;
                i++;
            }
            if (i < t->n && CH(t, i) == q) {
                *body_start = s + 1;
                *body_end = i;
                return i + 1;
            }
        } else if (q == '`') {
            Py_ssize_t i = s + 1;
            while (i < t->n) {
                Py_UCS4 c = CH(t, i);
                if (c == '\\') {
                    if (i + 1 < t->n && CH(t, i + 1) != '\n') { i += 2; continue; }
                    break;
                }
                if (c == '`') break;
                i++;
            }
            if (i < t->n && CH(t, i) == '`') {
                *body_start = s + 1;
                *body_end = i;
                return i + 1;
            }
        }
    }
    return -1;
}

/* End of a number starting at p, or -1. */
static Py_ssize_t match_number(const Text *t, Py_ssize_t p) {
    Py_ssize_t n = t->n;
    Py_UCS4 c = CH(t, p);
    Py_UCS4 x = p + 1 < n ? CH(t, p + 1) : 0;
    if (c == '0' && (x == 'x' || x == 'X') && p + 2 < n && is_hex_(CH(t, p + 2))) {
        Py_ssize_t q = p + 3;
        while (q < n && is_hex_(CH(t, q))) q++;
        while (q < n && (CH(t, q) == 'u' || CH(t, q) == 'U' || CH(t, q) == 'l' || CH(t, q) == 'L')) q++;
        return q;
    }
    if (c == '0' && (x == 'b' || x == 'B') && p + 2 < n) {
        Py_UCS4 d = CH(t, p + 2);
        if (d == '0' || d == '1' || d == '_') {
            Py_ssize_t q = p + 3;
            while (q < n && (CH(t, q) == '0' || CH(t, q) == '1' || CH(t, q) == '_')) q++;
            return q;
        }
    }
    if (c == '0' && (x == 'o' || x == 'O') && p + 2 < n) {
        Py_UCS4 d = CH(t, p + 2);
        if ((d >= '0' && d <= '7') || d == '_') {
            Py_ssize_t q = p + 3;
            while (q < n && ((CH(t, q) >= '0' && CH(t, q) <= '7') || CH(t, q) == '_')) q++;
            return q;
        }
    }
    Py_ssize_t q;
    if (is_decimal(c)) {
        q = p + 1;
        while (q < n && (is_decimal(CH(t, q)) || CH(t, q) == '_')) q++;
        if (q + 1 < n && CH(t, q) == '.' && is_decimal(CH(t, q + 1))) {
            q += 2;
            while (q < n && (is_decimal(CH(t, q)) || CH(t, q) == '_')) q++;
        }
    } else if (c == '.' && p + 1 < n && is_decimal(CH(t, p + 1))) {
        q = p + 2;
        while (q < n && (is_decimal(CH(t, q)) || CH(t, q) == '_')) q++;
    } else {
        return -1;
    }
    if (q < n && (CH(t, q) == 'e' || CH(t, q) == 'E')) {
        Py_ssize_t r = q + 1;
        if (r < n && (CH(t, r) == '+' || CH(t, r) == '-')) r++;
        if (r < n && is_decimal(CH(t, r))) {
            while (r < n && is_decimal(CH(t, r))) r++;
            q = r;
        }
    }
    while (q < n && is_ascii_alpha(CH(t, q))) q++;
    return q;
}

/* The pattern's multi-character operators, in its order (the first that matches wins). */
static const char *const OPERATORS[] = {
    "...", ">>>=", "<<=", ">>=", "**=", "//=", "===", "!==", "<=>", "->", "=>", "::", "++", "--", "&&",
    "||", "<<", ">>", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    ":=", "??", "?.", NULL,
};

/* End of an operator starting at p, or -1. */
static Py_ssize_t match_operator(const Text *t, Py_ssize_t p) {
    Py_UCS4 c = CH(t, p);
    if (c < 128) {
        for (const char *const *op = OPERATORS; *op; op++) {
            if ((Py_UCS4)(unsigned char)(*op)[0] == c && starts_with(t, p, *op)) return p + (Py_ssize_t)strlen(*op);
        }
    }
    if (!is_space(c) && !is_word(c)) return p + 1;
    return -1;
}

/* A number's normalised text: lower-cased, underscores dropped (ASCII done here). */
static PyObject *number_text(PyObject *text, const Text *t, Py_ssize_t a, Py_ssize_t b) {
    int ascii = 1;
    for (Py_ssize_t i = a; i < b; i++) {
        if (CH(t, i) >= 128) { ascii = 0; break; }
    }
    if (ascii) {
        char stack[64];
        char *buf = (size_t)(b - a) <= sizeof stack ? stack : PyMem_Malloc((size_t)(b - a));
        if (buf == NULL) return PyErr_NoMemory();
        Py_ssize_t m = 0;
        for (Py_ssize_t i = a; i < b; i++) {
            Py_UCS4 c = CH(t, i);
            if (c == '_') continue;
            buf[m++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        PyObject *out = PyUnicode_FromStringAndSize(buf, m);
        if (buf != stack) PyMem_Free(buf);
        return out;
    }
    PyObject *piece = PyUnicode_Substring(text, a, b);
    if (piece == NULL) return NULL;
    PyObject *lower = PyObject_CallMethod(piece, "lower", NULL);
    Py_DECREF(piece);
    if (lower == NULL) return NULL;
    PyObject *out = PyObject_CallMethod(lower, "replace", "ss", "_", "");
    Py_DECREF(lower);
    return out;
}

/* The int of the line the tokenizer is on, made once for all the tokens of that line. */
typedef struct {
    PyObject *obj;
    Py_ssize_t line;
} LineInt;

static PyObject *line_int(LineInt *cache, Py_ssize_t line) {
    if (cache->obj == NULL || cache->line != line) {
        PyObject *obj = PyLong_FromSsize_t(line);
        if (obj == NULL) return NULL;
        Py_XSETREF(cache->obj, obj);
        cache->line = line;
    }
    return Py_NewRef(cache->obj);
}

/* A Token (a tuple subclass): tuple.__new__(Token, (kind, text, first, last)). Steals text. */
static PyObject *new_token(PyTypeObject *type, int kind, PyObject *text, Py_ssize_t first, Py_ssize_t last,
                           LineInt *lines) {
    if (text == NULL) return NULL;
    PyObject *k = PyLong_FromLong(kind);
    PyObject *f = line_int(lines, first);
    PyObject *l = first == last ? (Py_XINCREF(f), f) : PyLong_FromSsize_t(last);
    PyObject *token = (k && f && l) ? type->tp_alloc(type, 4) : NULL;
    if (token == NULL) {
        Py_XDECREF(k);
        Py_XDECREF(f);
        Py_XDECREF(l);
        Py_DECREF(text);
        return NULL;
    }
    PyTuple_SET_ITEM(token, 0, k);
    PyTuple_SET_ITEM(token, 1, text);
    PyTuple_SET_ITEM(token, 2, f);
    PyTuple_SET_ITEM(token, 3, l);
    /* Ints and a str: it can never be part of a reference cycle, so the collector need not
     * track it (CPython untracks such plain tuples itself, but not a subclass's). */
    PyObject_GC_UnTrack(token);
    return token;
}

static Py_ssize_t count_newlines(const Text *t, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t count = 0;
    for (Py_ssize_t i = a; i < b; i++) count += CH(t, i) == '\n';
    return count;
}

/* tokenize(text, syntax, keywords, Token) -> (tokens, comment line numbers, line count):
 * fingerprint.tokenize's loop. syntax: 0 hash, 1 C-like, 2 dash, 3 generic. */
static PyObject *sp_tokenize(PyObject *self, PyObject *args) {
    PyObject *text, *keywords;
    PyTypeObject *type;
    int syntax;
    if (!PyArg_ParseTuple(args, "UiOO!", &text, &syntax, &keywords, &PyType_Type, &type)) return NULL;
    if (!PyAnySet_Check(keywords)) {
        PyErr_SetString(PyExc_TypeError, "keywords must be a set");
        return NULL;
    }
    if (!PyType_IsSubtype(type, &PyTuple_Type) || type->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "Token must be a tuple subclass without fields");
        return NULL;
    }
    if (syntax < SYN_HASH || syntax > SYN_GENERIC) {
        PyErr_SetString(PyExc_ValueError, "unknown syntax");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    Text t = {PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text)};
    LineInt li = {NULL, -1};
    PyObject *tokens = PyList_New(0);
    PyObject *comments = PyList_New(0);
    if (tokens == NULL || comments == NULL) goto fail;
    Py_ssize_t line = 0, p = 0, n = t.n;
    while (p < n) {
        Py_UCS4 c = CH(&t, p);
        if (c == '\n') {
            line++;
            p++;
            continue;
        }
        Py_ssize_t end = match_comment(&t, p, syntax);
        if (end >= 0) {
            Py_ssize_t last = line + count_newlines(&t, p, end);
            for (Py_ssize_t l = line; l <= last; l++) {
                if (append_new(comments, PyLong_FromSsize_t(l)) < 0) goto fail;
            }
            line = last;
            p = end;
            continue;
        }
        if (c == '"' || c == '\'' || c == '`' || is_prefix_char(c)) {
            Py_ssize_t a, b;
            end = match_string(&t, p, &a, &b);
            if (end >= 0) {
                Py_ssize_t last = line + count_newlines(&t, p, end);
                if (append_new(tokens, new_token(type, K_STRING, PyUnicode_Substring(text, a, b), line, last, &li)) < 0)
                    goto fail;
                line = last;
                p = end;
                continue;
            }
        }
        if (c == '.' || is_decimal(c)) {
            end = match_number(&t, p);
            if (end >= 0) {
                if (append_new(tokens, new_token(type, K_NUMBER, number_text(text, &t, p, end), line, line, &li)) < 0)
                    goto fail;
                p = end;
                continue;
            }
        }
        if (c == '$' || (is_word(c) && !is_decimal(c))) {
            end = p + 1;
            if (c == '$') {
                while (end < n && (is_word(CH(&t, end)) || CH(&t, end) == '$')) end++;
            } else {
                while (end < n && is_word(CH(&t, end))) end++;
            }
            PyObject *value = PyUnicode_Substring(text, p, end);
            if (value == NULL) goto fail;
            int keyword = PySet_Contains(keywords, value);
            if (keyword < 0) {
                Py_DECREF(value);
                goto fail;
            }
            if (append_new(tokens, new_token(type, keyword ? K_KEYWORD : K_IDENT, value, line, line, &li)) < 0) goto fail;
            p = end;
            continue;
        }
        end = match_operator(&t, p);
        if (end >= 0) {
            if (!(end == p + 1 && (c == ',' || c == ';'))) {
                if (append_new(tokens, new_token(type, K_OP, PyUnicode_Substring(text, p, end), line, line, &li)) < 0)
                    goto fail;
            }
            p = end;
            continue;
        }
        p++; /* whitespace */
    }
    Py_ssize_t line_count = line;
    if (n > 0 && CH(&t, n - 1) != '\n') line_count++;
    Py_XDECREF(li.obj);
    PyObject *result = Py_BuildValue("(NNn)", tokens, comments, line_count);
    return result;
fail:
    Py_XDECREF(li.obj);
    Py_XDECREF(tokens);
    Py_XDECREF(comments);
    return NULL;
}

/* The collector paused while a helper builds many containers (lists and pairs of ints,
 * which can hold no cycle): otherwise it would run a collection every 700 of them,
 * traversing the caller's large token lists again and again. Its previous state returns
 * afterwards. */
#define GC_PAUSED(name)                                                    \
    static PyObject *name(PyObject *self, PyObject *args) {               \
        int was_enabled = PyGC_Disable();                                  \
        PyObject *result = name##_body(self, args);                        \
        if (was_enabled) PyGC_Enable();                                    \
        return result;                                                     \
    }

/* ---- Index look-up ------------------------------------------------------------------
 * fpindex.Index.lookup over one stream's columns: dir (u32 x 2^16 + 1), key (u32), rec
 * (u32), pos (u16), each a buffer. Hashes are visited in ascending order, as there. */

typedef struct {
    int64_t value;
    PyObject *obj;
} Wanted;

/* Sort by signed value: the value with its sign bit flipped (so unsigned order is signed
 * order), by its top 16 bits in two stable counting passes, then by the whole value inside
 * each run of equal top bits (insertion: a run holds about n / 65536 items). tmp holds n
 * items. The look-ups only need bucket order to sweep the file, but `found` is filled in
 * this order, which must be the reference's (sorted hashes). */
static inline uint64_t flipped(int64_t value) { return (uint64_t)value ^ 0x8000000000000000ULL; }

static void sort_wanted(Wanted *items, Wanted *tmp, Py_ssize_t n) {
    Wanted *src = items, *dst = tmp;
    for (int shift = 48; shift < 64; shift += 8) {
        Py_ssize_t count[257] = {0};
        for (Py_ssize_t i = 0; i < n; i++) count[(flipped(src[i].value) >> shift & 0xFF) + 1]++;
        if (count[1 + (flipped(src[0].value) >> shift & 0xFF)] == n) continue;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (Py_ssize_t i = 0; i < n; i++) dst[count[flipped(src[i].value) >> shift & 0xFF]++] = src[i];
        Wanted *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != items) memcpy(items, src, (size_t)n * sizeof(Wanted));
    for (Py_ssize_t i = 1; i < n; i++) {
        Wanted item = items[i];
        uint64_t u = flipped(item.value);
        Py_ssize_t j = i;
        while (j > 0 && flipped(items[j - 1].value) > u && (flipped(items[j - 1].value) >> 48) == (u >> 48)) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = item;
    }
}

/* A search that found its key: the wanted item, its first entry, its bucket's end. The
 * searches are made LOOKUP_BLOCK at a time, each block's hits then taken in order. */
enum { LOOKUP_BLOCK = 4096 };
typedef struct {
    Py_ssize_t wanted;
    uint32_t entry, end;
} Found;

static int get_column(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->len % itemsize) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "index column has a partial item");
        return -1;
    }
    return 0;
}

/* index_lookup(dir, key, rec, pos, hashes, found, bucket_bits[, watermark]): add each
 * hash's (record, position) hits to found (a dict: hash -> list). With a watermark (>= 0):
 * True when a hit's record lies past it (a damaged file; found is then incomplete),
 * else False; without one, None. */
static PyObject *sp_index_lookup_body(PyObject *self, PyObject *args) {
    PyObject *dir_o, *key_o, *rec_o, *pos_o, *hashes, *found;
    int bits, past = 0;
    long long watermark = -1;
    if (!PyArg_ParseTuple(args, "OOOOOO!i|L", &dir_o, &key_o, &rec_o, &pos_o, &hashes, &PyDict_Type, &found, &bits,
                          &watermark))
        return NULL;
    if (bits < 1 || bits > 32) {
        PyErr_SetString(PyExc_ValueError, "bucket bits out of range");
        return NULL;
    }
    Py_buffer dv, kv, rv, pv, hv;
    int got = 0;
    PyObject *seq = NULL;
    Wanted *wanted = NULL;
    Found *at = NULL;
    if (get_column(dir_o, &dv, 4) < 0) return NULL;
    got = 1;
    if (get_column(key_o, &kv, 4) < 0) goto fail;
    got = 2;
    if (get_column(rec_o, &rv, 4) < 0) goto fail;
    got = 3;
    if (get_column(pos_o, &pv, 2) < 0) goto fail;
    got = 4;
    const uint32_t *dir = dv.buf, *keys = kv.buf, *recs = rv.buf;
    const uint16_t *poss = pv.buf;
    Py_ssize_t buckets = (Py_ssize_t)1 << bits, count = kv.len / 4;
    if (dv.len / 4 != buckets + 1 || rv.len / 4 != count || pv.len / 2 != count) {
        PyErr_SetString(PyExc_ValueError, "index columns disagree in size");
        goto fail;
    }
    /* The hashes as int64s in a buffer (query_hashes' distinct values, as memoryview "q"),
     * or any sequence of ints. From a buffer, an int is made only for each hash found. */
    Py_ssize_t m;
    if (PyObject_CheckBuffer(hashes)) {
        if (PyObject_GetBuffer(hashes, &hv, PyBUF_SIMPLE) < 0) goto fail;
        got = 5;
        if (hv.len % (Py_ssize_t)sizeof(int64_t)) {
            PyErr_SetString(PyExc_ValueError, "a buffer of hashes holds int64s");
            goto fail;
        }
        m = hv.len / (Py_ssize_t)sizeof(int64_t);
    } else {
        seq = PySequence_Fast(hashes, "hashes must be iterable");
        if (seq == NULL) goto fail;
        m = PySequence_Fast_GET_SIZE(seq);
    }
    wanted = new_array(2 * m, sizeof(Wanted)); /* items, then sort space */
    at = new_array(m < LOOKUP_BLOCK ? m : LOOKUP_BLOCK, sizeof(Found));
    if (wanted == NULL || at == NULL) goto fail;
    for (Py_ssize_t i = 0; i < m; i++) {
        if (seq == NULL) {
            memcpy(&wanted[i].value, (const char *)hv.buf + i * (Py_ssize_t)sizeof(int64_t), sizeof(int64_t));
            wanted[i].obj = NULL;
            continue;
        }
        PyObject *obj = PySequence_Fast_GET_ITEM(seq, i);
        if (as_int64(obj, &wanted[i].value) < 0) goto fail;
        wanted[i].obj = obj;
    }
    if (m > 0) sort_wanted(wanted, wanted + m, m);
    int shift = 64 - bits;
    int key_shift = 64 - bits - 32;
    /* LOOKUP_BLOCK hashes at a time, first every search (the look-ups ahead's directory
     * entries and keys fetched early: in sorted order they sweep the file, but each is a
     * cache miss), then the hits' records and positions, fetched early too, into found. */
    enum { AHEAD = 8 };
    for (Py_ssize_t block = 0; block < m; block += LOOKUP_BLOCK) {
        Py_ssize_t n_at = 0, block_end = m - block < LOOKUP_BLOCK ? m : block + LOOKUP_BLOCK;
        for (Py_ssize_t i = block; i < block_end; i++) {
            if (i + 2 * AHEAD < m) __builtin_prefetch(&dir[(uint64_t)wanted[i + 2 * AHEAD].value >> shift]);
            if (i + AHEAD < m) {
                uint64_t ahead = (uint64_t)wanted[i + AHEAD].value >> shift;
                if (dir[ahead] < (uint64_t)count) __builtin_prefetch(&keys[dir[ahead]]);
            }
            uint64_t u = (uint64_t)wanted[i].value;
            uint64_t b = u >> shift;
            uint32_t lo = dir[b], hi = dir[b + 1];
            if (lo >= hi) continue;
            if (hi > (uint64_t)count) {
                PyErr_SetString(PyExc_ValueError, "index directory points past its entries");
                goto fail;
            }
            uint32_t k = (uint32_t)(key_shift >= 0 ? (u >> key_shift) : (u << -key_shift));
            uint32_t a = lo, z = hi; /* bisect_left */
            while (a < z) {
                uint32_t mid = a + (z - a) / 2;
                if (keys[mid] < k) a = mid + 1; else z = mid;
            }
            if (a >= hi || keys[a] != k) continue;
            __builtin_prefetch(&recs[a]);
            __builtin_prefetch(&poss[a]);
            at[n_at].wanted = i;
            at[n_at].entry = a;
            at[n_at].end = hi;
            n_at++;
        }
        for (Py_ssize_t f = 0; f < n_at; f++) {
            Py_ssize_t i = at[f].wanted;
            uint32_t a = at[f].entry, hi = at[f].end, k = keys[a];
            PyObject *value = wanted[i].obj;
            if (value == NULL) {
                value = PyLong_FromLongLong((long long)wanted[i].value);
                if (value == NULL) goto fail;
            } else {
                Py_INCREF(value);
            }
            PyObject *hits = PyDict_GetItemWithError(found, value);
            if (hits == NULL) {
                hits = PyErr_Occurred() ? NULL : PyList_New(0);
                if (hits == NULL || PyDict_SetItem(found, value, hits) < 0) {
                    Py_XDECREF(hits);
                    Py_DECREF(value);
                    goto fail;
                }
                Py_DECREF(hits); /* found holds it */
            }
            Py_DECREF(value);
            for (; a < hi && keys[a] == k; a++) {
                if (watermark >= 0 && (long long)recs[a] > watermark) {
                    past = 1;
                    goto searched;
                }
                PyObject *pair = PyTuple_New(2), *r = PyLong_FromUnsignedLong(recs[a]);
                PyObject *q = PyLong_FromLong((long)poss[a]);
                if (pair == NULL || r == NULL || q == NULL) {
                    Py_XDECREF(pair);
                    Py_XDECREF(r);
                    Py_XDECREF(q);
                    goto fail;
                }
                PyTuple_SET_ITEM(pair, 0, r);
                PyTuple_SET_ITEM(pair, 1, q);
                if (append_new(hits, pair) < 0) goto fail;
            }
        }
    }
searched:
    PyMem_Free(wanted);
    PyMem_Free(at);
    Py_XDECREF(seq);
    if (got >= 5) PyBuffer_Release(&hv);
    PyBuffer_Release(&pv);
    PyBuffer_Release(&rv);
    PyBuffer_Release(&kv);
    PyBuffer_Release(&dv);
    if (watermark < 0) Py_RETURN_NONE;
    return PyBool_FromLong(past);
fail:
    PyMem_Free(wanted);
    PyMem_Free(at);
    Py_XDECREF(seq);
    if (got >= 5) PyBuffer_Release(&hv);
    if (got >= 4) PyBuffer_Release(&pv);
    if (got >= 3) PyBuffer_Release(&rv);
    if (got >= 2) PyBuffer_Release(&kv);
    if (got >= 1) PyBuffer_Release(&dv);
    return NULL;
}

GC_PAUSED(sp_index_lookup)

/* ---- attribution's helpers ------------------------------------------------------------
 * attribution._longest_chain, _line_starts, _starts_touching and _hits_per_record. */

typedef struct {
    long long q, r;
} Pair;

static int pair_cmp(const void *a, const void *b) {
    const Pair *x = a, *y = b;
    if (x->q != y->q) return (x->q > y->q) - (x->q < y->q);
    return (x->r < y->r) - (x->r > y->r); /* decreasing record position */
}

static int as_pair(PyObject *item, long long *a, long long *b) {
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "expected (int, int) tuples");
        return -1;
    }
    *a = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0));
    if (*a == -1 && PyErr_Occurred()) return -1;
    *b = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 1));
    if (*b == -1 && PyErr_Occurred()) return -1;
    return 0;
}

static int pair_cmp_ascending(const void *a, const void *b) {
    const Pair *x = a, *y = b;
    if (x->q != y->q) return (x->q > y->q) - (x->q < y->q);
    return (x->r > y->r) - (x->r < y->r);
}

/* The (int, int) pairs of any iterable (a set of hits, a list of runs) as a new PyMem
 * array, or NULL with an error set. */
static Pair *pair_array(PyObject *iterable, Py_ssize_t *count) {
    PyObject *seq = PySequence_Fast(iterable, "expected an iterable of (int, int) pairs");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Pair *out = new_array(n, sizeof(Pair));
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        if (as_pair(PySequence_Fast_GET_ITEM(seq, i), &out[i].q, &out[i].r) < 0) {
            PyMem_Free(out);
            out = NULL;
        }
    }
    Py_DECREF(seq);
    *count = n;
    return out;
}

/* longest_chain(pairs) -> the longest chain of (query, record) hits increasing in both. */
static PyObject *sp_longest_chain(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "pairs must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Pair *pairs = new_array(n, sizeof(Pair));
    Py_ssize_t *tails = new_array(n, sizeof(Py_ssize_t)); /* pair index per length */
    Py_ssize_t *previous = new_array(n, sizeof(Py_ssize_t));
    PyObject *out = NULL;
    if (pairs == NULL || tails == NULL || previous == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (as_pair(PySequence_Fast_GET_ITEM(seq, i), &pairs[i].q, &pairs[i].r) < 0) goto done;
    }
    qsort(pairs, (size_t)n, sizeof(Pair), pair_cmp);
    Py_ssize_t m = 0; /* distinct pairs (the reference takes a set first) */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (m == 0 || pairs[i].q != pairs[m - 1].q || pairs[i].r != pairs[m - 1].r) pairs[m++] = pairs[i];
    }
    Py_ssize_t length = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        long long r = pairs[i].r;
        Py_ssize_t lo = 0, hi = length; /* bisect_left over the tails' record positions */
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if (pairs[tails[mid]].r < r) lo = mid + 1; else hi = mid;
        }
        tails[lo] = i;
        if (lo == length) length++;
        previous[i] = lo ? tails[lo - 1] : -1;
    }
    out = PyList_New(length);
    if (out == NULL) goto done;
    Py_ssize_t at = length ? tails[length - 1] : -1;
    for (Py_ssize_t j = length - 1; j >= 0; j--) {
        PyObject *pair = Py_BuildValue("(LL)", pairs[at].q, pairs[at].r);
        if (pair == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, j, pair);
        at = previous[at];
    }
done:
    PyMem_Free(pairs);
    PyMem_Free(tails);
    PyMem_Free(previous);
    Py_DECREF(seq);
    return out;
}

/* The longest chain of n distinct pairs sorted ascending (longest_chain's LIS), into chain
 * (ascending); work, tails and previous hold n items each. Returns its length. */
static Py_ssize_t chain_of(const Pair *part, Py_ssize_t n, Pair *work, Py_ssize_t *tails, Py_ssize_t *previous,
                           Pair *chain) {
    memcpy(work, part, (size_t)n * sizeof(Pair));
    qsort(work, (size_t)n, sizeof(Pair), pair_cmp);
    Py_ssize_t length = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long r = work[i].r;
        Py_ssize_t lo = 0, hi = length;
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            if (work[tails[mid]].r < r) lo = mid + 1; else hi = mid;
        }
        tails[lo] = i;
        if (lo == length) length++;
        previous[i] = lo ? tails[lo - 1] : -1;
    }
    Py_ssize_t at = length ? tails[length - 1] : -1;
    for (Py_ssize_t j = length - 1; j >= 0; j--) {
        chain[j] = work[at];
        at = previous[at];
    }
    return length;
}

/* occurrences(pairs, evaluate, gap): attribution._occurrences. The pairs sorted and
 * distinct; the parts (split where query positions are more than gap apart) are ranges of
 * them, and so are the hits before and after an accepted chain's query span (a prefix and a
 * suffix of its part), so the reference's list of parts, taken from the front with the two
 * sides put back in front, is a stack of ranges here. */
static PyObject *sp_occurrences(PyObject *self, PyObject *args) {
    PyObject *pairs_o, *evaluate;
    long long gap;
    if (!PyArg_ParseTuple(args, "OOL", &pairs_o, &evaluate, &gap)) return NULL;
    Py_ssize_t n = 0;
    Pair *pairs = pair_array(pairs_o, &n);
    if (pairs == NULL) return NULL;
    qsort(pairs, (size_t)n, sizeof(Pair), pair_cmp_ascending);
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (m == 0 || pairs[i].q != pairs[m - 1].q || pairs[i].r != pairs[m - 1].r) pairs[m++] = pairs[i];
    }
    /* Each split of a range leaves at most two, inside it: m ranges on the stack at most. */
    Py_ssize_t *stack = new_array(2 * m, sizeof(Py_ssize_t)), top = 0;
    Pair *work = new_array(m, sizeof(Pair)), *chain = new_array(m, sizeof(Pair));
    Py_ssize_t *tails = new_array(m, sizeof(Py_ssize_t)), *previous = new_array(m, sizeof(Py_ssize_t));
    PyObject *result = NULL;
    if (stack == NULL || work == NULL || chain == NULL || tails == NULL || previous == NULL) goto done;
    for (Py_ssize_t end = m, start; end > 0; end = start) { /* the parts, pushed last first */
        for (start = end - 1; start > 0 && pairs[start].q - pairs[start - 1].q <= gap; start--) {
        }
        if (end - start >= 2) {
            stack[top++] = start;
            stack[top++] = end;
        }
    }
    while (top > 0) {
        Py_ssize_t hi = stack[--top], lo = stack[--top];
        Py_ssize_t length = chain_of(pairs + lo, hi - lo, work, tails, previous, chain);
        if (length < 2) continue;
        PyObject *list = PyList_New(length);
        for (Py_ssize_t j = 0; list != NULL && j < length; j++) {
            PyObject *pair = ll_pair(chain[j].q, chain[j].r);
            if (pair == NULL) Py_CLEAR(list); else PyList_SET_ITEM(list, j, pair);
        }
        if (list == NULL) goto done;
        PyObject *verdict = PyObject_CallOneArg(evaluate, list);
        Py_DECREF(list);
        int accepted = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
        Py_XDECREF(verdict);
        if (accepted < 0) goto done;
        if (!accepted) continue;
        long long first = chain[0].q, last = chain[length - 1].q;
        Py_ssize_t before = lo, after = hi;
        while (before < hi && pairs[before].q < first) before++;
        while (after > lo && pairs[after - 1].q > last) after--;
        if (hi - after >= 2) {
            stack[top++] = after;
            stack[top++] = hi;
        }
        if (before - lo >= 2) {
            stack[top++] = lo;
            stack[top++] = before;
        }
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(pairs);
    PyMem_Free(stack);
    PyMem_Free(work);
    PyMem_Free(chain);
    PyMem_Free(tails);
    PyMem_Free(previous);
    return result;
}

static int token_line(PyObject *token, Py_ssize_t index, long long *value) {
    if (!PyTuple_Check(token) || PyTuple_GET_SIZE(token) < 4) {
        PyErr_SetString(PyExc_TypeError, "tokens must be Token tuples");
        return -1;
    }
    *value = PyLong_AsLongLong(PyTuple_GET_ITEM(token, index));
    return (*value == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* line_starts(tokens) -> [bool]: token i is the first on its line (and True at the end). */
static PyObject *sp_line_starts(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "tokens must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n + 1);
    if (out == NULL) goto fail;
    PyList_SET_ITEM(out, 0, Py_NewRef(Py_True));
    if (n > 0) PyList_SET_ITEM(out, n, Py_NewRef(Py_True));
    long long last = 0, first;
    if (n > 1 && token_line(PySequence_Fast_GET_ITEM(seq, 0), 3, &last) < 0) goto fail;
    for (Py_ssize_t i = 1; i < n; i++) {
        PyObject *token = PySequence_Fast_GET_ITEM(seq, i);
        if (token_line(token, 2, &first) < 0) goto fail;
        PyList_SET_ITEM(out, i, Py_NewRef(last < first ? Py_True : Py_False));
        if (token_line(token, 3, &last) < 0) goto fail;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out); /* unset items are NULL: list_dealloc skips them */
    Py_DECREF(seq);
    return NULL;
}

static int extend_range(PyObject *out, long long a, long long b) {
    for (long long i = a; i < b; i++) {
        PyObject *v = PyLong_FromLongLong(i);
        if (append_new(out, v) < 0) return -1;
    }
    return 0;
}

/* starts_touching(touching, k, n_grams) -> start positions of the k-grams holding a token. */
/* Token indices, given as a sequence of ints or as a mask: a buffer of one byte per token,
 * nonzero at each index (attribution's on_added; a huge file has millions of touching
 * tokens, which as a list of ints cost 40 bytes each). Read in order with indices_next. */
typedef struct {
    PyObject *seq; /* the sequence (PySequence_Fast), or NULL for a mask */
    Py_buffer mask;
    Py_ssize_t n, j; /* items or bytes; the next to read */
} Indices;

static int indices_open(Indices *ix, PyObject *obj, const char *what) {
    ix->seq = NULL;
    ix->j = 0;
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &ix->mask, PyBUF_SIMPLE) < 0) return -1;
        ix->n = ix->mask.len;
        return 0;
    }
    ix->seq = PySequence_Fast(obj, what);
    if (ix->seq == NULL) return -1;
    ix->n = PySequence_Fast_GET_SIZE(ix->seq);
    return 0;
}

/* 1 with the next index in *out (and in *item the sequence's int, borrowed, or NULL for a
 * mask), 0 past the last, -1 with an exception set. */
static int indices_next(Indices *ix, long long *out, PyObject **item) {
    if (ix->seq == NULL) {
        const char *bytes = ix->mask.buf;
        while (ix->j < ix->n && !bytes[ix->j]) ix->j++;
        if (ix->j >= ix->n) return 0;
        *out = ix->j++;
        *item = NULL;
        return 1;
    }
    if (ix->j >= ix->n) return 0;
    PyObject *obj = PySequence_Fast_GET_ITEM(ix->seq, ix->j);
    ix->j++;
    Py_ssize_t value = PyNumber_AsSsize_t(obj, PyExc_IndexError);
    if (value == -1 && PyErr_Occurred()) return -1;
    *out = value;
    *item = obj;
    return 1;
}

static void indices_close(Indices *ix) {
    if (ix->seq == NULL) PyBuffer_Release(&ix->mask);
    else Py_DECREF(ix->seq);
}

static PyObject *sp_starts_touching(PyObject *self, PyObject *args) {
    PyObject *touching;
    long long k, n_grams;
    if (!PyArg_ParseTuple(args, "OLL", &touching, &k, &n_grams)) return NULL;
    PyObject *seq = PySequence_Fast(touching, "touching must be iterable");
    if (seq == NULL) return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL) goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int have_run = 0, have_last = 0;
    long long run_start = 0, run_end = 0, last = 0;
    for (Py_ssize_t j = 0; j <= n; j++) {
        long long i = 0;
        if (j < n) {
            i = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, j));
            if (i == -1 && PyErr_Occurred()) goto fail;
            if (have_run && i == run_end + 1) {
                run_end = i;
                continue;
            }
        }
        if (have_run) {
            long long a = run_start - k + 1, floor = have_last ? last + 1 : 0;
            long long b = (run_end < n_grams - 1 ? run_end : n_grams - 1) + 1;
            if (a < floor) a = floor;
            if (a < b) {
                if (extend_range(out, a, b) < 0) goto fail;
                last = b - 1;
                have_last = 1;
            }
        }
        run_start = run_end = i;
        have_run = 1;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

/* hits_per_record(hashes, found, df_cap) -> {record: [(query position, record position)]}:
 * for each hash found in at most df_cap records, every query position holding it paired
 * with every hit, in the reference's order. */
static int packed_by_hash(PyObject *packed, PyObject *found, PyObject *by_hash);

static PyObject *sp_hits_per_record_body(PyObject *self, PyObject *args) {
    PyObject *hashes, *found;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "OO!n", &hashes, &PyDict_Type, &found, &cap)) return NULL;
    if (!PyDict_Check(hashes) && !PyBytes_Check(hashes)) {
        PyErr_SetString(PyExc_TypeError, "hashes must be a dict or query_hashes' packed bytes");
        return NULL;
    }
    PyObject *by_hash = PyDict_New(), *out = PyDict_New(), *records = NULL;
    if (by_hash == NULL || out == NULL) goto fail;
    Py_ssize_t it = 0;
    PyObject *pos, *value;
    if (PyBytes_Check(hashes) && packed_by_hash(hashes, found, by_hash) < 0) goto fail;
    while (PyDict_Check(hashes) && PyDict_Next(hashes, &it, &pos, &value)) {
        int has = PyDict_Contains(found, value);
        if (has < 0) goto fail;
        if (!has) continue;
        PyObject *list = dict_list(by_hash, value);
        if (list == NULL || PyList_Append(list, pos) < 0) goto fail;
    }
    it = 0;
    PyObject *hits;
    while (PyDict_Next(found, &it, &value, &hits)) {
        PyObject *seq = PySequence_Fast(hits, "hits must be lists");
        if (seq == NULL) goto fail;
        Py_ssize_t h = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t j = 0; j < h; j++) {
            PyObject *hit = PySequence_Fast_GET_ITEM(seq, j);
            if (!PyTuple_CheckExact(hit)) { /* (record, position) as another sequence: as tuples */
                PyObject *fixed = PyList_New(h);
                for (Py_ssize_t i = 0; fixed != NULL && i < h; i++) {
                    PyObject *t = PySequence_Tuple(PySequence_Fast_GET_ITEM(seq, i));
                    if (t == NULL) Py_CLEAR(fixed); else PyList_SET_ITEM(fixed, i, t);
                }
                Py_DECREF(seq);
                if (fixed == NULL) goto fail;
                seq = fixed;
                break;
            }
        }
        records = PySet_New(NULL);
        if (records == NULL) { Py_DECREF(seq); goto fail; }
        for (Py_ssize_t j = 0; j < h; j++) {
            PyObject *hit = PySequence_Fast_GET_ITEM(seq, j);
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
                PyErr_SetString(PyExc_TypeError, "hits must be (record, position) tuples");
                Py_DECREF(seq);
                goto fail;
            }
            if (PySet_Add(records, PyTuple_GET_ITEM(hit, 0)) < 0) { Py_DECREF(seq); goto fail; }
        }
        Py_ssize_t distinct = PySet_GET_SIZE(records);
        Py_CLEAR(records);
        PyObject *qs = distinct > cap ? NULL : PyDict_GetItemWithError(by_hash, value);
        if (qs == NULL) {
            Py_DECREF(seq);
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        for (Py_ssize_t a = 0; a < PyList_GET_SIZE(qs); a++) {
            PyObject *q = PyList_GET_ITEM(qs, a);
            for (Py_ssize_t j = 0; j < h; j++) {
                PyObject *hit = PySequence_Fast_GET_ITEM(seq, j);
                PyObject *record = PyTuple_GET_ITEM(hit, 0);
                PyObject *list = dict_list(out, record);
                if (list == NULL || append_new(list, PyTuple_Pack(2, q, PyTuple_GET_ITEM(hit, 1))) < 0) {
                    Py_DECREF(seq);
                    goto fail;
                }
            }
        }
        Py_DECREF(seq);
    }
    Py_DECREF(by_hash);
    return out;
fail:
    Py_XDECREF(records);
    Py_XDECREF(by_hash);
    Py_XDECREF(out);
    return NULL;
}

GC_PAUSED(sp_hits_per_record)

/* line_tokens(tokens, touching, added) -> {line: [token index]}: the touching tokens on
 * each added line (a multi-line token is on each of its lines). */
static PyObject *sp_line_tokens_body(PyObject *self, PyObject *args) {
    PyObject *token_seq, *touching, *added;
    if (!PyArg_ParseTuple(args, "OOO", &token_seq, &touching, &added)) return NULL;
    if (!PyAnySet_Check(added)) {
        PyErr_SetString(PyExc_TypeError, "added must be a set");
        return NULL;
    }
    PyObject *tokens = PySequence_Fast(token_seq, "tokens must be a sequence");
    if (tokens == NULL) return NULL;
    Indices seq;
    if (indices_open(&seq, touching, "touching must be iterable or a mask") < 0) {
        Py_DECREF(tokens);
        return NULL;
    }
    PyObject *index = NULL; /* the current touching index, as the int the lists get */
    PyObject *out = PyDict_New();
    if (out == NULL) goto fail;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(tokens);
    /* Tokens come line by line: the last line looked at, and its list (NULL: not added). */
    long long cached_line = -1;
    int have_cached = 0;
    PyObject *cached_list = NULL;
    for (;;) {
        Py_CLEAR(index);
        long long value;
        PyObject *item;
        int more = indices_next(&seq, &value, &item);
        if (more < 0) goto fail;
        if (!more) break;
        index = item != NULL ? Py_NewRef(item) : PyLong_FromLongLong(value);
        if (index == NULL) goto fail;
        Py_ssize_t i = (Py_ssize_t)value;
        if (i < 0) i += count;
        if (i < 0 || i >= count) {
            PyErr_SetString(PyExc_IndexError, "token index out of range");
            goto fail;
        }
        PyObject *token = PySequence_Fast_GET_ITEM(tokens, i);
        long long first, last;
        if (token_line(token, 2, &first) < 0 || token_line(token, 3, &last) < 0) goto fail;
        if (first == last && have_cached && first == cached_line) {
            if (cached_list != NULL && PyList_Append(cached_list, index) < 0) goto fail;
            continue;
        }
        have_cached = 0;
        for (long long line = first; line <= last; line++) {
            PyObject *key = line == first ? Py_NewRef(PyTuple_GET_ITEM(token, 2)) : PyLong_FromLongLong(line);
            if (key == NULL) goto fail;
            int in = PySet_Contains(added, key);
            if (in <= 0) {
                Py_DECREF(key);
                if (in < 0) goto fail;
                if (first == last) {
                    have_cached = 1;
                    cached_line = line;
                    cached_list = NULL;
                }
                continue;
            }
            PyObject *list = dict_list(out, key);
            Py_DECREF(key);
            if (list == NULL) goto fail;
            if (PyList_Append(list, index) < 0) goto fail;
            if (first == last) {
                have_cached = 1;
                cached_line = line;
                cached_list = list; /* borrowed: out holds it */
            }
        }
    }
    indices_close(&seq);
    Py_DECREF(tokens);
    return out;
fail:
    Py_XDECREF(index);
    Py_XDECREF(out);
    indices_close(&seq);
    Py_DECREF(tokens);
    return NULL;
}

GC_PAUSED(sp_line_tokens)

/* line_owners(line_tokens, owner, extended, extend_share, line_share) -> {line: record}:
 * attribution._line_owners, the vote of each added line's tokens. */
static PyObject *sp_line_owners(PyObject *self, PyObject *args) {
    PyObject *line_tokens, *owner, *extended;
    double extend_share, line_share;
    if (!PyArg_ParseTuple(args, "O!O!O!dd", &PyDict_Type, &line_tokens, &PyDict_Type, &owner, &PyDict_Type,
                          &extended, &extend_share, &line_share))
        return NULL;
    PyObject *result = PyDict_New(), *owners = NULL, *votes = NULL;
    if (result == NULL) return NULL;
    Py_ssize_t it = 0;
    PyObject *line, *idx;
    while (PyDict_Next(line_tokens, &it, &line, &idx)) {
        if (!PyList_Check(idx)) {
            PyErr_SetString(PyExc_TypeError, "line tokens must be lists");
            goto fail;
        }
        Py_ssize_t n = PyList_GET_SIZE(idx);
        owners = PyList_New(0);
        if (owners == NULL) goto fail;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *rec = PyDict_GetItemWithError(owner, PyList_GET_ITEM(idx, j));
            if (rec == NULL && PyErr_Occurred()) goto fail;
            if (rec != NULL && PyList_Append(owners, rec) < 0) goto fail;
        }
        if ((double)PyList_GET_SIZE(owners) >= extend_share * (double)n) {
            for (Py_ssize_t j = 0; j < n; j++) {
                PyObject *i = PyList_GET_ITEM(idx, j);
                int held = PyDict_Contains(owner, i);
                if (held < 0) goto fail;
                if (held) continue;
                PyObject *rec = PyDict_GetItemWithError(extended, i);
                if (rec == NULL && PyErr_Occurred()) goto fail;
                if (rec != NULL && PyList_Append(owners, rec) < 0) goto fail;
            }
        }
        Py_ssize_t m = PyList_GET_SIZE(owners);
        if (m > 0 && (double)m >= line_share * (double)n) {
            /* Counter(owners).most_common(1): the most votes, the first seen among equals. */
            votes = PyDict_New();
            if (votes == NULL) goto fail;
            for (Py_ssize_t j = 0; j < m; j++) {
                PyObject *rec = PyList_GET_ITEM(owners, j);
                PyObject *count = PyDict_GetItemWithError(votes, rec);
                if (count == NULL && PyErr_Occurred()) goto fail;
                PyObject *next = PyLong_FromSsize_t(count ? PyLong_AsSsize_t(count) + 1 : 1);
                if (next == NULL || PyDict_SetItem(votes, rec, next) < 0) {
                    Py_XDECREF(next);
                    goto fail;
                }
                Py_DECREF(next);
            }
            Py_ssize_t vit = 0, best_count = -1;
            PyObject *rec, *count, *best = NULL;
            while (PyDict_Next(votes, &vit, &rec, &count)) {
                Py_ssize_t c = PyLong_AsSsize_t(count);
                if (c > best_count) {
                    best_count = c;
                    best = rec;
                }
            }
            if (PyDict_SetItem(result, line, best) < 0) goto fail;
            Py_CLEAR(votes);
        }
        Py_CLEAR(owners);
    }
    return result;
fail:
    Py_XDECREF(votes);
    Py_XDECREF(owners);
    Py_DECREF(result);
    return NULL;
}

/* ---- attribution's helpers, second round ----------------------------------------------
 * attribution._touching, _query_hashes, _end_runs, _placements, and low_complexity of one
 * k-gram: the same results, in the same order, as the Python references. */

/* The added lines as a bitmap over 0 .. max_line (no token lies outside it). */
static uint8_t *added_bitmap(PyObject *added, long long max_line) {
    uint8_t *bits = PyMem_Calloc((size_t)(max_line >= 0 ? max_line + 1 : 1), 1);
    if (bits == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    PyObject *it = PyObject_GetIter(added), *item;
    if (it == NULL) {
        PyMem_Free(bits);
        return NULL;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        int overflow = 0;
        long long line = PyLong_Check(item) ? PyLong_AsLongLongAndOverflow(item, &overflow) : -1;
        Py_DECREF(item);
        if (line == -1 && PyErr_Occurred()) break;
        if (!overflow && line >= 0 && line <= max_line) bits[line] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        PyMem_Free(bits);
        return NULL;
    }
    return bits;
}

/* touching(tokens, added) -> [i for i, t in enumerate(tokens) if _touches(t, added)]:
 * the tokens with a line (first to last) among the added ones. */
static PyObject *sp_touching(PyObject *self, PyObject *args) {
    PyObject *token_seq, *added;
    if (!PyArg_ParseTuple(args, "OO", &token_seq, &added)) return NULL;
    if (!PyAnySet_Check(added)) {
        PyErr_SetString(PyExc_TypeError, "added must be a set");
        return NULL;
    }
    PyObject *tokens = PySequence_Fast(token_seq, "tokens must be a sequence");
    if (tokens == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tokens);
    long long *lines = ll_alloc(2 * n);
    uint8_t *bits = NULL;
    PyObject *out = NULL;
    if (lines == NULL) goto done;
    long long max_line = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *token = PySequence_Fast_GET_ITEM(tokens, i);
        if (token_line(token, 2, &lines[2 * i]) < 0 || token_line(token, 3, &lines[2 * i + 1]) < 0) goto done;
        if (lines[2 * i] > max_line) max_line = lines[2 * i];
        if (lines[2 * i + 1] > max_line) max_line = lines[2 * i + 1];
    }
    bits = added_bitmap(added, max_line);
    if (bits == NULL) goto done;
    out = PyList_New(0);
    if (out == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long first = lines[2 * i], last = lines[2 * i + 1];
        /* _touches: the first line, or (a multi-line token) any of the lines after it.
         * A negative line (never the tokenizer's) is looked up in the set itself. */
        int hit = 0;
        for (long long line = first; !hit && line <= (last > first ? last : first); line++) {
            if (line >= 0) {
                hit = bits[line];
            } else {
                PyObject *value = PyLong_FromLongLong(line);
                hit = value ? PySet_Contains(added, value) : -1;
                Py_XDECREF(value);
                if (hit < 0) {
                    Py_CLEAR(out);
                    goto done;
                }
            }
        }
        if (hit && append_new(out, PyLong_FromSsize_t(i)) < 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
done:
    PyMem_Free(lines);
    PyMem_Free(bits);
    Py_DECREF(tokens);
    return out;
}

/* An open-addressing set of 64-bit values (dict.fromkeys's first-occurrence order). */
typedef struct {
    int64_t *slots;
    uint8_t *used;
    size_t mask;
} ValueSet;

static int valueset_init(ValueSet *set, Py_ssize_t n) {
    size_t size = 16;
    while (size < 2 * (size_t)n + 1) size <<= 1;
    set->slots = PyMem_Malloc(size * sizeof(int64_t));
    set->used = PyMem_Calloc(size, 1);
    set->mask = size - 1;
    if (set->slots == NULL || set->used == NULL) {
        PyMem_Free(set->slots);
        PyMem_Free(set->used);
        set->slots = NULL;
        set->used = NULL;
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* 1 when value is new (and now in the set), 0 when it was there already. */
static int valueset_add(ValueSet *set, int64_t value) {
    size_t i = (size_t)(((uint64_t)value * 0x9E3779B97F4A7C15ULL) >> 20) & set->mask;
    while (set->used[i]) {
        if (set->slots[i] == value) return 0;
        i = (i + 1) & set->mask;
    }
    set->used[i] = 1;
    set->slots[i] = value;
    return 1;
}

/* query_hashes(key, digests, k, touching, n_grams) -> (packed, distinct):
 * attribution._query_hashes: the k-grams that hold a touching token (starts_touching's
 * positions) hashed as kgram_hashes does, and their values in first-occurrence order.
 * packed stands for the reference's {position: hash}: (position, hash) int64 pairs in
 * position order, as bytes, which hits_per_record reads without a Python int per k-gram;
 * distinct is the values as int64s in bytes (attribution reads it as memoryview "q", which
 * index_lookup takes as it is). The k-grams are hashed QUERY_BATCH at a time: a huge file's
 * millions of them never need more than the two results and the set that dedupes them. */
enum { QUERY_BATCH = 4096 };

static PyObject *sp_query_hashes(PyObject *self, PyObject *args) {
    PyObject *key, *digests, *touching;
    Py_ssize_t k, n_grams;
    if (!PyArg_ParseTuple(args, "SOnOn", &key, &digests, &k, &touching, &n_grams)) return NULL;
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    Indices seq;
    if (indices_open(&seq, touching, "touching must be iterable or a mask") < 0) return NULL;
    Py_ssize_t n = 0, m = 0, n_ranges = 0, ranges_cap = 0;
    uint64_t *words = NULL, *values = NULL;
    Py_ssize_t *scratch = NULL;
    long long *ranges = NULL; /* [a, b) start ranges, one per run of touching tokens */
    PyObject *hashes = NULL, *distinct = NULL, *result = NULL;
    ValueSet set = {NULL, NULL, 0};
    words = digest_words(digests, &n);
    if (words == NULL) goto done;
    /* starts_touching: for each run of consecutive tokens, the k-grams over it. */
    int have_run = 0, have_last = 0, more = 1;
    long long run_start = 0, run_end = 0, last = 0;
    while (more) {
        long long i = 0;
        PyObject *item;
        more = indices_next(&seq, &i, &item);
        if (more < 0) goto done;
        if (more) {
            if (have_run && i == run_end + 1) {
                run_end = i;
                continue;
            }
        }
        if (have_run) {
            long long a = run_start - k + 1, floor = have_last ? last + 1 : 0;
            long long b = (run_end < n_grams - 1 ? run_end : n_grams - 1) + 1;
            if (a < floor) a = floor;
            if (a < b) {
                if (n_ranges == ranges_cap) {
                    Py_ssize_t grow = ranges_cap ? 2 * ranges_cap : 16;
                    long long *bigger = PyMem_Realloc(ranges, (size_t)grow * 2 * sizeof(long long));
                    if (bigger == NULL) {
                        PyErr_NoMemory();
                        goto done;
                    }
                    ranges = bigger;
                    ranges_cap = grow;
                }
                ranges[2 * n_ranges] = a;
                ranges[2 * n_ranges + 1] = b;
                n_ranges++;
                m += (Py_ssize_t)(b - a);
                last = b - 1;
                have_last = 1;
            }
        }
        run_start = run_end = i;
        have_run = 1;
    }
    hashes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m * 2 * sizeof(int64_t)));
    distinct = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(m * sizeof(int64_t)));
    if (hashes == NULL || distinct == NULL || valueset_init(&set, m) < 0) goto done;
    int64_t *pairs = (int64_t *)PyBytes_AS_STRING(hashes), *values_out = (int64_t *)PyBytes_AS_STRING(distinct);
    scratch = new_array(3 * QUERY_BATCH, sizeof(Py_ssize_t));
    values = new_array(QUERY_BATCH, sizeof(uint64_t));
    if (scratch == NULL || values == NULL) goto done;
    Py_ssize_t *start = scratch, *count = scratch + QUERY_BATCH, *pos = scratch + 2 * QUERY_BATCH;
    Py_ssize_t filled = 0, n_distinct = 0, batch = 0;
    for (Py_ssize_t r = 0; r <= n_ranges; r++) {
        long long x = r < n_ranges ? ranges[2 * r] : 0, end = r < n_ranges ? ranges[2 * r + 1] : 0;
        for (;;) {
            if (batch == QUERY_BATCH || (r == n_ranges && batch > 0)) {
                keyed_batch(&ks, words, start, count, batch, values);
                for (Py_ssize_t j = 0; j < batch; j++) {
                    pairs[2 * (filled + j)] = (int64_t)pos[j];
                    pairs[2 * (filled + j) + 1] = (int64_t)values[j];
                    if (valueset_add(&set, (int64_t)values[j])) values_out[n_distinct++] = (int64_t)values[j];
                }
                filled += batch;
                batch = 0;
            }
            if (x >= end) break;
            Py_ssize_t i = (Py_ssize_t)x, a = i, b = i + k; /* as kgram_hashes reads joined[8i:8i+8k] */
            if (a < 0 || b < 0) {
                a = 8 * i;
                b = 8 * (i + k);
                slice_bounds(8 * n, &a, &b);
                a /= 8;
                b /= 8;
            } else {
                slice_bounds(n, &a, &b);
            }
            pos[batch] = i;
            start[batch] = a;
            count[batch] = b - a;
            batch++;
            x++;
        }
    }
    if (_PyBytes_Resize(&distinct, (Py_ssize_t)(n_distinct * sizeof(int64_t))) < 0) goto done;
    result = PyTuple_Pack(2, hashes, distinct);
done:
    Py_XDECREF(hashes);
    Py_XDECREF(distinct);
    PyMem_Free(set.slots);
    PyMem_Free(set.used);
    PyMem_Free(words);
    PyMem_Free(ranges);
    PyMem_Free(scratch);
    PyMem_Free(values);
    indices_close(&seq);
    return result;
}

/* low_complexity(digests, i, k) -> fingerprint.low_complexity for one k-gram (8-byte
 * digests): the slice digests[i:i + k] repeats with a period of at most k // 2. */
static PyObject *sp_low_complexity(PyObject *self, PyObject *args) {
    PyObject *digests;
    Py_ssize_t i, k;
    if (!PyArg_ParseTuple(args, "O!nn", &PyList_Type, &digests, &i, &k)) return NULL;
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "k must be positive");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(digests), a = i, b = i + k; /* digests[i:i + k] */
    slice_bounds(n, &a, &b);
    Py_ssize_t len = b - a;
    uint64_t g[64];
    if (len > 64) {
        PyErr_SetString(PyExc_ValueError, "k-grams longer than 64 tokens are not supported");
        return NULL;
    }
    for (Py_ssize_t j = 0; j < len; j++) {
        if (digest_word(PyList_GET_ITEM(digests, a + j), &g[j]) < 0) return NULL;
    }
    return PyBool_FromLong(periodic(g, len, k));
}

/* Both searches below keep what the references keep: their step count, the order in
 * which they find placements, and when they give up. */
typedef struct {
    const long long *cuts; /* placement positions, ascending */
    Py_ssize_t n;
    long long room;        /* end_runs only */
    long long max_inserted; /* end_runs only */
    long long steps, max_steps;
    Py_ssize_t max_candidates;
    long long *placed;     /* (start, end) pairs of the runs placed so far */
    long long *found;      /* per placement: size, run count, then max_runs pairs */
    Py_ssize_t found_n, found_cap, stride;
    const long long *barred; /* placements only, or NULL: _CopiedPieces.barred_before */
    Py_ssize_t barred_n;
    long long q1, hi, k, w;  /* the rest of that _CopiedPieces */
} Search;

static int search_record(Search *s, long long size, int runs) {
    if (s->found_n == s->found_cap) {
        Py_ssize_t grow = s->found_cap ? 2 * s->found_cap : 16;
        long long *bigger = PyMem_Realloc(s->found, (size_t)(grow * s->stride) * sizeof(long long));
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->found = bigger;
        s->found_cap = grow;
    }
    long long *slot = s->found + s->found_n * s->stride;
    slot[0] = size;
    slot[1] = runs;
    memcpy(slot + 2, s->placed, (size_t)(2 * runs) * sizeof(long long));
    s->found_n++;
    return 0;
}

/* value in an ascending array (set(dists) membership). */
static int is_member(const long long *sorted, Py_ssize_t n, long long value) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < value) lo = mid + 1; else hi = mid;
    }
    return lo < n && sorted[lo] == value;
}

/* _end_runs's place(): 1 to go on, 0 over budget, -1 error. depth = runs placed. */
static int end_place(Search *s, Py_ssize_t first, long long total, int runs_left, int depth, const long long *sorted,
                     Py_ssize_t sorted_n) {
    for (Py_ssize_t a = first; a < s->n; a++) {
        long long start = s->cuts[a];
        if (start - total >= s->room) break;
        for (Py_ssize_t b = a + 1; b < s->n; b++) {
            long long end = s->cuts[b];
            long long size = total + end - start;
            if (size > s->max_inserted) break;
            s->steps++;
            if (s->steps > s->max_steps || s->found_n > s->max_candidates) return 0;
            s->placed[2 * depth] = start;
            s->placed[2 * depth + 1] = end;
            if (s->room + size > end && is_member(sorted, sorted_n, s->room + size)
                && search_record(s, size, depth + 1) < 0)
                return -1;
            if (runs_left > 1) {
                int rc = end_place(s, b + 1, size, runs_left - 1, depth + 1, sorted, sorted_n);
                if (rc <= 0) return rc;
            }
        }
    }
    return 1;
}

static int ll_cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long *int_array(PyObject *obj, Py_ssize_t *count) {
    PyObject *seq = PySequence_Fast(obj, "expected a sequence of ints");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    long long *out = ll_alloc(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (out[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(out);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *count = n;
    return out;
}

/* The found placements as Python objects: with_size gives (size, runs) pairs. */
static PyObject *search_result(const Search *s, int with_size) {
    PyObject *out = PyList_New(s->found_n);
    if (out == NULL) return NULL;
    for (Py_ssize_t f = 0; f < s->found_n; f++) {
        const long long *slot = s->found + f * s->stride;
        PyObject *runs = PyTuple_New((Py_ssize_t)slot[1]);
        if (runs == NULL) goto fail;
        for (long long r = 0; r < slot[1]; r++) {
            PyObject *run = Py_BuildValue("(LL)", slot[2 + 2 * r], slot[3 + 2 * r]);
            if (run == NULL) {
                Py_DECREF(runs);
                goto fail;
            }
            PyTuple_SET_ITEM(runs, (Py_ssize_t)r, run);
        }
        PyObject *item = runs;
        if (with_size) {
            item = Py_BuildValue("(LN)", slot[0], runs);
            if (item == NULL) goto fail;
        }
        PyList_SET_ITEM(out, f, item);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* end_runs(dists, room, max_inserted, max_runs, max_candidates, max_steps) -> [(size, runs)]
 * or None: attribution._end_runs with its limits passed in. */
static PyObject *sp_end_runs(PyObject *self, PyObject *args) {
    PyObject *dists_o;
    long long room, max_inserted, max_steps;
    int max_runs;
    Py_ssize_t max_candidates;
    if (!PyArg_ParseTuple(args, "OLLinL", &dists_o, &room, &max_inserted, &max_runs, &max_candidates, &max_steps))
        return NULL;
    if (max_runs < 1) max_runs = 1; /* place() runs once whatever runs_left is */
    Search s = {0};
    long long *sorted = NULL;
    PyObject *out = NULL;
    s.cuts = int_array(dists_o, &s.n);
    if (s.cuts == NULL) return NULL;
    sorted = ll_alloc(s.n);
    s.placed = ll_alloc(2 * (long long)max_runs);
    if (sorted == NULL || s.placed == NULL) goto done;
    memcpy(sorted, s.cuts, (size_t)s.n * sizeof(long long));
    qsort(sorted, (size_t)s.n, sizeof(long long), ll_cmp);
    s.room = room;
    s.max_inserted = max_inserted;
    s.max_steps = max_steps;
    s.max_candidates = max_candidates;
    s.stride = 2 + 2 * (Py_ssize_t)max_runs;
    int rc = end_place(&s, 0, 0, max_runs, 0, sorted, s.n);
    if (rc < 0) goto done;
    out = rc ? search_result(&s, 1) : Py_NewRef(Py_None);
done:
    PyMem_Free((void *)s.cuts);
    PyMem_Free(sorted);
    PyMem_Free(s.placed);
    PyMem_Free(s.found);
    return out;
}

/* _CopiedPieces.possible(a, b), a_none / b_none for None: 1, 0, or -1 (an IndexError,
 * as Python's indexing of barred_before would raise). */
static int pieces_possible(const Search *s, int a_none, long long a, int b_none, long long b) {
    if (a_none) a = s->q1;
    if (b_none) b = s->hi;
    long long last = b - s->k - s->w + 1;
    if (last < a) return 1;
    Py_ssize_t i, j; /* before[last + 1 - q1] - before[a - q1] */
    if (py_index(last + 1 - s->q1, s->barred_n, &i) < 0 || py_index(a - s->q1, s->barred_n, &j) < 0) return -1;
    return s->barred[i] - s->barred[j] == 0;
}

/* _placements's place(): 1 to go on, 0 over budget, -1 error. */
static int gap_place(Search *s, Py_ssize_t first, long long left, int runs_left, int depth) {
    for (Py_ssize_t a = first; a < s->n; a++) {
        long long st = s->cuts[a];
        if (s->barred != NULL) { /* the copied piece before this run: from q1 or the last run's end */
            int ok = pieces_possible(s, depth == 0, depth ? s->placed[2 * depth - 1] : 0, 0, st);
            if (ok < 0) return -1;
            if (!ok) break;
        }
        for (Py_ssize_t b = a + 1; b < s->n; b++) {
            long long e = s->cuts[b];
            if (e - st > left) break;
            s->steps++;
            if (s->steps > s->max_steps || s->found_n > s->max_candidates) return 0;
            s->placed[2 * depth] = st;
            s->placed[2 * depth + 1] = e;
            if (e - st == left) {
                int ok = s->barred == NULL ? 1 : pieces_possible(s, 0, e, 1, 0);
                if (ok < 0 || (ok && search_record(s, 0, depth + 1) < 0)) return -1;
            } else if (runs_left > 1) {
                int rc = gap_place(s, b + 1, left - (e - st), runs_left - 1, depth + 1);
                if (rc <= 0) return rc;
            }
        }
    }
    return 1;
}

/* placements(lo, hi, size, starts, max_runs, max_candidates, max_steps[, pieces]) -> [runs]
 * or None: attribution._placements with its limits passed in. pieces: None, or
 * (barred_before, q1, hi, k, w) of a _CopiedPieces. */
static PyObject *sp_placements(PyObject *self, PyObject *args) {
    long long lo, hi, size, max_steps;
    PyObject *starts, *pieces = Py_None;
    int max_runs;
    Py_ssize_t max_candidates;
    if (!PyArg_ParseTuple(args, "LLLOinL|O", &lo, &hi, &size, &starts, &max_runs, &max_candidates, &max_steps,
                          &pieces))
        return NULL;
    if (max_runs < 1) max_runs = 1;
    Search s = {0};
    PyObject *out = NULL, *barred = Py_None;
    if (pieces != Py_None && !PyArg_ParseTuple(pieces, "OLLLL", &barred, &s.q1, &s.hi, &s.k, &s.w)) return NULL;
    long long *cuts = ll_alloc(hi - lo + 1);
    s.placed = ll_alloc(2 * (long long)max_runs);
    if (cuts == NULL || s.placed == NULL) goto done;
    if (barred != Py_None && (s.barred = int_array(barred, &s.barred_n)) == NULL) goto done;
    for (long long i = lo; i <= hi; i++) { /* cuts = [i for i in range(lo, hi + 1) if starts[i]] */
        PyObject *flag = PySequence_GetItem(starts, (Py_ssize_t)i);
        if (flag == NULL) goto done;
        int truth = PyObject_IsTrue(flag);
        Py_DECREF(flag);
        if (truth < 0) goto done;
        if (truth) cuts[s.n++] = i;
    }
    s.cuts = cuts;
    s.max_steps = max_steps;
    s.max_candidates = max_candidates;
    s.stride = 2 + 2 * (Py_ssize_t)max_runs;
    int rc = gap_place(&s, 0, size, max_runs, 0);
    if (rc < 0) goto done;
    out = rc ? search_result(&s, 0) : Py_NewRef(Py_None);
done:
    PyMem_Free(cuts);
    PyMem_Free((void *)s.barred);
    PyMem_Free(s.placed);
    PyMem_Free(s.found);
    return out;
}

/* confirmed_pieces(qmap, rpos0, n_grams, straddling, pairs) -> attribution._confirmed_pieces:
 * the same ascending starts j, found by walking the record's hits (pairs, few) instead of
 * every j: (q, r) gives j = r - rpos0 when qmap[j] == q. */
static PyObject *sp_confirmed_pieces(PyObject *self, PyObject *args) {
    PyObject *qmap, *straddling, *pairs;
    long long rpos0, n_grams;
    if (!PyArg_ParseTuple(args, "O!LLO!O!", &PyList_Type, &qmap, &rpos0, &n_grams, &PySet_Type, &straddling,
                          &PySet_Type, &pairs))
        return NULL;
    Py_ssize_t size = PyList_GET_SIZE(qmap);
    if (n_grams > size) {
        PyErr_SetString(PyExc_IndexError, "n_grams past the spliced positions");
        return NULL;
    }
    Py_ssize_t cap = PySet_GET_SIZE(pairs), m = 0;
    long long *found = ll_alloc(cap);
    if (found == NULL) return NULL;
    PyObject *it = PyObject_GetIter(pairs), *item, *out = NULL;
    if (it == NULL) goto done;
    while ((item = PyIter_Next(it)) != NULL) {
        long long q, r;
        int rc = as_pair(item, &q, &r);
        Py_DECREF(item);
        if (rc < 0) break;
        long long j = r - rpos0;
        if (j < 0 || j >= n_grams) continue;
        long long at = PyLong_AsLongLong(PyList_GET_ITEM(qmap, (Py_ssize_t)j));
        if (at == -1 && PyErr_Occurred()) break;
        if (at != q) continue;
        PyObject *key = PyLong_FromLongLong(j);
        int held = key ? PySet_Contains(straddling, key) : -1;
        Py_XDECREF(key);
        if (held < 0) break;
        if (!held && m < cap) found[m++] = j;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) goto done;
    qsort(found, (size_t)m, sizeof(long long), ll_cmp);
    out = ll_list(found, m);
done:
    PyMem_Free(found);
    return out;
}

/* end_placements(record, head, edge, room, rpos0, options, digests, k, w, key, pairs, wanted,
 * make) -> [placement]: attribution._end_placements, the k-gram hashes keyed with key (the
 * Hasher's gram key), each placement made by make (EndPlacement). pairs: the record's
 * first look-up hits, (query, record) positions. */
/* The keyed hashes of k-grams already hashed in one end_placements call, by their k token
 * digests: the placements of one chain end share most of the k-grams that straddle their
 * cuts and all of the record's edge window (benchmarks/README.md, "Fourth round"). An
 * open-addressing table; a k-gram's value is its hash whichever placement asks. */
typedef struct {
    Py_ssize_t k, cap, used;
    uint64_t *words; /* cap * k */
    uint64_t *hash;
    uint8_t *full;
} GramCache;

static uint64_t gram_slot(const uint64_t *words, Py_ssize_t k) {
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (Py_ssize_t i = 0; i < k; i++) h = (h ^ words[i]) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 29);
}

static int gram_cache_init(GramCache *c, Py_ssize_t k, Py_ssize_t cap) {
    c->k = k;
    c->cap = cap;
    c->used = 0;
    c->words = new_array((long long)cap * k, sizeof(uint64_t));
    c->hash = new_array(cap, sizeof(uint64_t));
    c->full = PyMem_Calloc((size_t)cap, 1);
    if (c->full == NULL && !PyErr_Occurred()) PyErr_NoMemory();
    return c->words == NULL || c->hash == NULL || c->full == NULL ? -1 : 0;
}

static void gram_cache_free(GramCache *c) {
    PyMem_Free(c->words);
    PyMem_Free(c->hash);
    PyMem_Free(c->full);
}

/* The slot holding this k-gram, or the empty slot where it would go. */
static Py_ssize_t gram_find(const GramCache *c, const uint64_t *words) {
    Py_ssize_t i = (Py_ssize_t)(gram_slot(words, c->k) & (uint64_t)(c->cap - 1));
    while (c->full[i] && memcmp(c->words + i * c->k, words, (size_t)c->k * sizeof(uint64_t)) != 0)
        i = (i + 1) & (c->cap - 1);
    return i;
}

static int gram_put(GramCache *c, const uint64_t *words, uint64_t hash) {
    if (2 * (c->used + 1) > c->cap) { /* grow: twice the room, every entry placed again */
        GramCache bigger;
        if (gram_cache_init(&bigger, c->k, 2 * c->cap) < 0) {
            gram_cache_free(&bigger);
            return -1;
        }
        for (Py_ssize_t i = 0; i < c->cap; i++) {
            if (!c->full[i]) continue;
            Py_ssize_t at = gram_find(&bigger, c->words + i * c->k);
            memcpy(bigger.words + at * c->k, c->words + i * c->k, (size_t)c->k * sizeof(uint64_t));
            bigger.hash[at] = c->hash[i];
            bigger.full[at] = 1;
        }
        bigger.used = c->used;
        gram_cache_free(c);
        *c = bigger;
    }
    Py_ssize_t at = gram_find(c, words);
    if (!c->full[at]) {
        memcpy(c->words + at * c->k, words, (size_t)c->k * sizeof(uint64_t));
        c->hash[at] = hash;
        c->full[at] = 1;
        c->used++;
    }
    return 0;
}

static PyObject *sp_end_placements(PyObject *self, PyObject *args) {
    PyObject *record, *options_o, *digests, *key, *pairs_o, *wanted, *make;
    int head;
    long long edge, room, rpos0, k, w;
    if (!PyArg_ParseTuple(args, "OpLLLOO!LLSOO!O", &record, &head, &edge, &room, &rpos0, &options_o, &PyList_Type,
                          &digests, &k, &w, &key, &pairs_o, &PyDict_Type, &wanted, &make))
        return NULL;
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "k must be positive");
        return NULL;
    }
    Keyed ks;
    if (keyed_setup(&ks, key) < 0) return NULL;
    /* The placement type is a NamedTuple: made as its __new__ makes it, tuple.__new__. */
    int as_tuple = PyType_Check(make) && PyType_IsSubtype((PyTypeObject *)make, &PyTuple_Type);
    PyObject *options = PySequence_Fast(options_o, "options must be a sequence");
    if (options == NULL) return NULL;
    Py_ssize_t n_pairs = 0;
    Pair *pairs = pair_array(pairs_o, &n_pairs);
    PyObject *out = PyList_New(0), *rpos0_o = PyLong_FromLongLong(rpos0);
    Py_ssize_t n_digests = PyList_GET_SIZE(digests);
    Py_ssize_t cap = 0;
    long long *qmap = NULL, *cuts = NULL;
    Pair *runs = NULL;
    uint64_t *words = NULL, *hash = NULL, *need_hash = NULL;
    Py_ssize_t *need_start = NULL, *need_count = NULL; /* k-grams not hashed yet: keyed_batch's slices */
    char *flags = NULL; /* per spliced start: 1 straddles a cut, 2 in the window, 4 confirmed */
    GramCache cache = {0};
    if (pairs == NULL || out == NULL || rpos0_o == NULL || gram_cache_init(&cache, (Py_ssize_t)k, 256) < 0) goto fail;
    for (Py_ssize_t o = 0; o < PySequence_Fast_GET_SIZE(options); o++) {
        PyObject *option = PySequence_Fast_GET_ITEM(options, o), *runs_o;
        long long size;
        if (!PyArg_ParseTuple(option, "LO", &size, &runs_o)) goto fail;
        PyObject *runs_seq = PySequence_Fast(runs_o, "runs must be a sequence");
        if (runs_seq == NULL) goto fail;
        Py_ssize_t n_runs = PySequence_Fast_GET_SIZE(runs_seq);
        PyMem_Free(runs);
        PyMem_Free(cuts);
        runs = new_array(n_runs, sizeof(Pair));
        cuts = ll_alloc(n_runs);
        int bad = runs == NULL || cuts == NULL;
        for (Py_ssize_t r = 0; !bad && r < n_runs; r++) {
            long long ds, de;
            bad = as_pair(PySequence_Fast_GET_ITEM(runs_seq, r), &ds, &de) < 0;
            /* The runs as query pieces [s, e): before the chain, mirrored (sorted below). */
            runs[r].q = head ? edge - de : edge + ds;
            runs[r].r = head ? edge - ds : edge + de;
        }
        Py_DECREF(runs_seq);
        if (bad) goto fail;
        if (n_runs == 0) {
            PyErr_SetString(PyExc_IndexError, "list index out of range"); /* cuts[0] */
            goto fail;
        }
        if (head) qsort(runs, (size_t)n_runs, sizeof(Pair), pair_cmp_ascending);
        long long lo = head ? edge - room - size : edge - k, hi = head ? edge + k : edge + room + size;
        /* qmap: the query positions [lo, hi) with the pieces cut out; cuts: where. */
        long long length = 0, pos = lo;
        for (Py_ssize_t r = 0; r < n_runs; r++) {
            if (runs[r].q > pos) length += runs[r].q - pos;
            pos = runs[r].r;
        }
        if (hi > pos) length += hi - pos;
        if (length > cap) {
            PyMem_Free(qmap);
            PyMem_Free(words);
            PyMem_Free(hash);
            PyMem_Free(flags);
            PyMem_Free(need_start);
            PyMem_Free(need_count);
            PyMem_Free(need_hash);
            cap = length;
            qmap = ll_alloc(cap);
            words = new_array(cap, sizeof(uint64_t));
            hash = new_array(cap, sizeof(uint64_t));
            flags = new_array(cap, 1);
            need_start = new_array(cap, sizeof(Py_ssize_t));
            need_count = new_array(cap, sizeof(Py_ssize_t));
            need_hash = new_array(cap, sizeof(uint64_t));
            if (qmap == NULL || words == NULL || hash == NULL || flags == NULL || need_start == NULL
                || need_count == NULL || need_hash == NULL)
                goto fail;
        }
        Py_ssize_t m = 0;
        pos = lo;
        for (Py_ssize_t r = 0; r <= n_runs; r++) {
            long long until = r < n_runs ? runs[r].q : hi;
            for (long long x = pos; x < until; x++) qmap[m++] = x;
            if (r < n_runs) {
                cuts[r] = m;
                pos = runs[r].r;
            }
        }
        for (Py_ssize_t j = 0; j < m; j++) { /* spliced = _take(digests, qmap) */
            Py_ssize_t i;
            if (py_index(qmap[j], n_digests, &i) < 0 || digest_word(PyList_GET_ITEM(digests, i), &words[j]) < 0)
                goto fail;
        }
        long long n_grams = m - k + 1, grams = n_grams > 0 ? n_grams : 0;
        memset(flags, 0, (size_t)grams);
        for (Py_ssize_t r = 0; r < n_runs; r++) {
            long long a = cuts[r] - k + 1 > 0 ? cuts[r] - k + 1 : 0, b = cuts[r] < n_grams ? cuts[r] : n_grams;
            for (long long j = a; j < b; j++) flags[j] |= 1;
        }
        /* The record's first (last) w k-grams: winnowing stored the least of them. */
        long long win_lo = head ? 0 : (n_grams - w > 0 ? n_grams - w : 0);
        long long win_hi = head ? (w < n_grams ? w : n_grams) : n_grams;
        for (long long j = win_lo; j < win_hi; j++) flags[j] |= 2;
        /* The flagged k-grams' hashes: from the cache, the rest four at a time (keyed_batch). */
        Py_ssize_t n_need = 0;
        for (long long j = 0; j < grams; j++) {
            if (!flags[j]) continue;
            Py_ssize_t at = gram_find(&cache, words + j);
            if (cache.full[at]) {
                hash[j] = cache.hash[at];
            } else {
                need_start[n_need] = (Py_ssize_t)j;
                need_count[n_need] = (Py_ssize_t)k;
                n_need++;
            }
        }
        keyed_batch(&ks, words, need_start, need_count, n_need, need_hash);
        for (Py_ssize_t x = 0; x < n_need; x++) {
            hash[need_start[x]] = need_hash[x];
            if (gram_put(&cache, words + need_start[x], need_hash[x]) < 0) goto fail;
        }
        int have_least = 0;
        int64_t least = 0;
        for (long long j = 0; j < grams; j++) {
            if ((flags[j] & 2) && !periodic(words + j, (Py_ssize_t)k, (Py_ssize_t)k)
                && (!have_least || (int64_t)hash[j] < least)) {
                least = (int64_t)hash[j];
                have_least = 1;
            }
        }
        for (Py_ssize_t p = 0; p < n_pairs; p++) { /* _confirmed_pieces */
            long long j = pairs[p].r - rpos0;
            if (j >= 0 && j < n_grams && qmap[j] == pairs[p].q && !(flags[j] & 1)) flags[j] |= 4;
        }
        PyObject *window_min = PyFrozenSet_New(NULL), *confirmed = PySet_New(NULL);
        PyObject *cuts_t = ll_tuple(cuts, n_runs), *qmap_l = ll_list(qmap, m);
        PyObject *need = head ? ll_pair(w - 1, room) : ll_pair(0, room + k - w + 1);
        PyObject *claimed = head ? ll_pair(0, room) : ll_pair(k, m);
        PyObject *outer = head ? ll_pair(0, cuts[0]) : ll_pair(cuts[n_runs - 1], m);
        PyObject *placement = NULL;
        bad = window_min == NULL || confirmed == NULL || cuts_t == NULL || qmap_l == NULL || need == NULL
              || claimed == NULL || outer == NULL;
        for (long long j = 0; !bad && j < grams; j++) {
            if ((flags[j] & 2) && have_least && (int64_t)hash[j] == least) bad = ll_set_add(window_min, j) < 0;
            if (!bad && (flags[j] & 4)) bad = ll_set_add(confirmed, j) < 0;
        }
        if (!bad && as_tuple) {
            PyObject *fields = PyTuple_Pack(9, record, rpos0_o, cuts_t, need, window_min, confirmed, qmap_l, claimed,
                                            outer);
            PyObject *new_args = fields == NULL ? NULL : PyTuple_Pack(1, fields);
            if (new_args != NULL) placement = PyTuple_Type.tp_new((PyTypeObject *)make, new_args, NULL);
            Py_XDECREF(fields);
            Py_XDECREF(new_args);
        } else if (!bad) {
            placement = PyObject_CallFunctionObjArgs(make, record, rpos0_o, cuts_t, need, window_min, confirmed,
                                                     qmap_l, claimed, outer, NULL);
        }
        Py_XDECREF(window_min);
        Py_XDECREF(confirmed);
        Py_XDECREF(cuts_t);
        Py_XDECREF(qmap_l);
        Py_XDECREF(need);
        Py_XDECREF(claimed);
        Py_XDECREF(outer);
        if (placement == NULL || PyList_Append(out, placement) < 0) {
            Py_XDECREF(placement);
            goto fail;
        }
        Py_DECREF(placement);
        for (long long j = 0; j < grams; j++) { /* wanted[hashes[j]].append((placement, j)) */
            if (!(flags[j] & 1)) continue;
            PyObject *value = PyLong_FromLongLong((long long)(int64_t)hash[j]);
            PyObject *list = value ? dict_list(wanted, value) : NULL;
            Py_XDECREF(value);
            PyObject *at = list == NULL ? NULL : PyLong_FromLongLong(j);
            PyObject *entry = at == NULL ? NULL : PyTuple_Pack(2, placement, at);
            Py_XDECREF(at);
            if (list == NULL || append_new(list, entry) < 0) goto fail;
        }
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_DECREF(options);
    Py_XDECREF(rpos0_o);
    PyMem_Free(pairs);
    PyMem_Free(runs);
    PyMem_Free(cuts);
    PyMem_Free(qmap);
    PyMem_Free(words);
    PyMem_Free(hash);
    PyMem_Free(flags);
    PyMem_Free(need_start);
    PyMem_Free(need_count);
    PyMem_Free(need_hash);
    gram_cache_free(&cache);
    return out;
}

/* coverage(chain, k, w, record_len, token_lines) -> (covered, extension): attribution._coverage. */
typedef struct {
    PyObject *seq;
    Py_ssize_t n;
    int bad;
} Lines;

/* token_lines[i] with Python's indexing (negative from the end); out of range sets bad. */
static long long line_at(Lines *l, long long i) {
    Py_ssize_t at;
    if (l->bad || py_index(i, l->n, &at) < 0) { /* the first error stays the one raised */
        l->bad = 1;
        return 0;
    }
    long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(l->seq, at));
    if (v == -1 && PyErr_Occurred()) l->bad = 1;
    return v;
}

static int add_range(PyObject *set, long long a, long long b) {
    for (long long p = a; p < b; p++) {
        if (ll_set_add(set, p) < 0) return -1;
    }
    return 0;
}

static PyObject *sp_coverage(PyObject *self, PyObject *args) {
    PyObject *chain_o, *lines_o;
    long long k, w, record_len;
    if (!PyArg_ParseTuple(args, "OLLLO", &chain_o, &k, &w, &record_len, &lines_o)) return NULL;
    PyObject *chain = PySequence_Fast(chain_o, "chain must be a sequence");
    if (chain == NULL) return NULL;
    Lines L = {PySequence_Fast(lines_o, "token_lines must be a sequence"), 0, 0};
    Py_ssize_t n = PySequence_Fast_GET_SIZE(chain);
    Pair *pairs = new_array(n, sizeof(Pair));
    PyObject *covered = NULL, *extension = NULL, *result = NULL;
    if (L.seq == NULL) goto done;
    L.n = PySequence_Fast_GET_SIZE(L.seq);
    long long query_len = L.n;
    if (pairs == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (as_pair(PySequence_Fast_GET_ITEM(chain, i), &pairs[i].q, &pairs[i].r) < 0) goto done;
    }
    covered = PySet_New(NULL);
    extension = PySet_New(NULL);
    if (covered == NULL || extension == NULL) goto done;
    Py_ssize_t segment_start = 0;
    for (Py_ssize_t m = 1; m <= n; m++) {
        if (m < n) {
            long long q0 = pairs[m - 1].q, r0 = pairs[m - 1].r, q1 = pairs[m].q, r1 = pairs[m].r;
            if (q1 - q0 <= w + k && r1 - r0 <= w + k) continue;
        }
        long long first_q = pairs[segment_start].q, first_r = pairs[segment_start].r;
        long long last_q = pairs[m - 1].q, last_r = pairs[m - 1].r;
        for (Py_ssize_t i = segment_start; i < m; i++) {
            if (add_range(covered, pairs[i].q, pairs[i].q + k) < 0) goto done;
        }
        long long start = first_q - first_r;
        int at_line = first_r < w && start >= 0;
        if (at_line && start != 0) {
            at_line = line_at(&L, start - 1) != line_at(&L, start);
            if (L.bad) goto done;
        }
        if (at_line) {
            if (add_range(covered, start, first_q) < 0) goto done;
        } else {
            long long stop_at = first_q - w > -1 ? first_q - w : -1;
            for (long long p = first_q - 1; p > stop_at; p--) {
                long long here = line_at(&L, p), there = line_at(&L, first_q);
                if (L.bad) goto done;
                if (here != there) break;
                if (add_range(extension, p, p + 1) < 0) goto done;
            }
        }
        long long end = last_q + k;
        long long left = record_len - k - last_r > 0 ? record_len - k - last_r : 0;
        long long stop = end + left;
        int at_end = left < w && stop <= query_len;
        if (at_end && stop != query_len) {
            at_end = line_at(&L, stop) != line_at(&L, stop - 1);
            if (L.bad) goto done;
        }
        if (at_end) {
            if (add_range(covered, end, stop) < 0) goto done;
        } else {
            long long reach = end + (w - 1 < left ? w - 1 : left);
            if (reach > query_len) reach = query_len;
            for (long long p = end; p < reach; p++) {
                long long here = line_at(&L, p), there = line_at(&L, end - 1);
                if (L.bad) goto done;
                if (here != there) break;
                if (add_range(extension, p, p + 1) < 0) goto done;
            }
        }
        segment_start = m;
    }
    PyObject *rest = PyNumber_Subtract(extension, covered);
    if (rest == NULL) goto done;
    result = PyTuple_Pack(2, covered, rest);
    Py_DECREF(rest);
done:
    Py_XDECREF(covered);
    Py_XDECREF(extension);
    Py_XDECREF(L.seq);
    PyMem_Free(pairs);
    Py_DECREF(chain);
    return result;
}

/* start_distances(starts, edge, stop, step) -> [(x - edge) * step for x in range(edge, stop,
 * step) if starts[x]]: attribution._start_distances (step 1 or -1; Python's indexing). */
static PyObject *sp_start_distances(PyObject *self, PyObject *args) {
    PyObject *starts;
    long long edge, stop, step;
    if (!PyArg_ParseTuple(args, "O!LLL", &PyList_Type, &starts, &edge, &stop, &step)) return NULL;
    if (step != 1 && step != -1) {
        PyErr_SetString(PyExc_ValueError, "step must be 1 or -1");
        return NULL;
    }
    Py_ssize_t size = PyList_GET_SIZE(starts);
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (long long x = edge; step > 0 ? x < stop : x > stop; x += step) {
        Py_ssize_t i;
        if (py_index(x, size, &i) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *flag = PyList_GET_ITEM(starts, (Py_ssize_t)i);
        int truth = flag == Py_True ? 1 : flag == Py_False ? 0 : PyObject_IsTrue(flag);
        if (truth < 0 || (truth && append_new(out, PyLong_FromLongLong((x - edge) * step)) < 0)) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* take(items, indices) -> [items[i] for i in indices] (a list; Python's indexing). */
static PyObject *sp_take(PyObject *self, PyObject *args) {
    PyObject *items, *indices;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &items, &indices)) return NULL;
    PyObject *seq = PySequence_Fast(indices, "indices must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), size = PyList_GET_SIZE(items);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t j = 0; out != NULL && j < n; j++) {
        Py_ssize_t i = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(seq, j), PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) {
            Py_CLEAR(out);
            break;
        }
        if (py_index(i, size, &i) < 0) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, j, Py_NewRef(PyList_GET_ITEM(items, i)));
    }
    Py_DECREF(seq);
    return out;
}

/* ---- attribution's helpers, fourth round -----------------------------------------------
 * attribution._first_lines, _index_mask and _chain_owners. */

/* first_lines(tokens) -> [t.first_line for t in tokens] (the tokens' own int objects). */
static PyObject *sp_first_lines(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "tokens must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *token = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(token) || PyTuple_GET_SIZE(token) < 4) {
            PyErr_SetString(PyExc_TypeError, "tokens must be Token tuples");
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, Py_NewRef(PyTuple_GET_ITEM(token, 2)));
    }
    Py_DECREF(seq);
    return out;
}

/* index_mask(indices, n) -> bytearray of n bytes, 1 at each index (Python's indexing). */
static PyObject *sp_index_mask(PyObject *self, PyObject *args) {
    PyObject *indices;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &indices, &n)) return NULL;
    PyObject *seq = PySequence_Fast(indices, "indices must be iterable");
    if (seq == NULL) return NULL;
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n > 0 ? n : 0);
    if (out != NULL) {
        char *mask = PyByteArray_AS_STRING(out);
        Py_ssize_t size = PyByteArray_GET_SIZE(out);
        memset(mask, 0, (size_t)size);
        for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(seq); j++) {
            long long i = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, j));
            Py_ssize_t at;
            if ((i == -1 && PyErr_Occurred()) || py_index(i, size, &at) < 0) {
                if (PyErr_ExceptionMatches(PyExc_IndexError)) PyErr_SetString(PyExc_IndexError, "bytearray index out of range");
                Py_CLEAR(out);
                break;
            }
            mask[at] = 1;
        }
    }
    Py_DECREF(seq);
    return out;
}

/* sole_hits(found) -> {(record, position)}: attribution._sole_hits, the hits of the hashes
 * that one record alone holds. */
static PyObject *sp_sole_hits_body(PyObject *self, PyObject *found) {
    if (!PyDict_Check(found)) {
        PyErr_SetString(PyExc_TypeError, "found must be a dict");
        return NULL;
    }
    PyObject *sole = PySet_New(NULL);
    Py_ssize_t it = 0;
    PyObject *value, *hits_o;
    while (sole != NULL && PyDict_Next(found, &it, &value, &hits_o)) {
        PyObject *hits = PySequence_Fast(hits_o, "hits must be a sequence");
        if (hits == NULL) {
            Py_CLEAR(sole);
            break;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(hits);
        PyObject *first = NULL;
        int one = n > 0;
        for (Py_ssize_t i = 0; one && i < n; i++) {
            PyObject *hit = PySequence_Fast_GET_ITEM(hits, i);
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
                PyErr_SetString(PyExc_TypeError, "hits must be (record, position) tuples");
                one = -1;
                break;
            }
            PyObject *record = PyTuple_GET_ITEM(hit, 0);
            if (first == NULL) {
                first = record;
                continue;
            }
            one = PyObject_RichCompareBool(first, record, Py_EQ);
        }
        for (Py_ssize_t i = 0; one > 0 && i < n; i++) {
            if (PySet_Add(sole, PySequence_Fast_GET_ITEM(hits, i)) < 0) one = -1;
        }
        Py_DECREF(hits);
        if (one < 0) Py_CLEAR(sole);
    }
    return sole;
}

static PyObject *sp_sole_hits(PyObject *self, PyObject *found) {
    int was_enabled = PyGC_Disable();
    PyObject *result = sp_sole_hits_body(self, found);
    if (was_enabled) PyGC_Enable();
    return result;
}

/* barred_before(looked, hits, w, q1, hi) -> [int]: attribution._barred_before (the
 * looked-up mask a bytes-like object, the hits (query, record) pairs). */
static PyObject *sp_barred_before(PyObject *self, PyObject *args) {
    PyObject *looked_o, *hits_o;
    long long w, q1, hi;
    if (!PyArg_ParseTuple(args, "OOLLL", &looked_o, &hits_o, &w, &q1, &hi)) return NULL;
    Py_buffer looked;
    if (PyObject_GetBuffer(looked_o, &looked, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t n_hits = 0;
    Pair *hits = pair_array(hits_o, &n_hits);
    long long span = hi > q1 ? hi - q1 : 0;
    long long *free_before = ll_alloc(span + 1), *barred = ll_alloc(span + 1);
    uint8_t *hit = PyMem_Calloc((size_t)(span > 0 ? span : 1), 1);
    PyObject *out = NULL;
    if (hits == NULL || free_before == NULL || barred == NULL || hit == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_hits; i++) {
        if (hits[i].q >= q1 && hits[i].q < hi) hit[hits[i].q - q1] = 1;
    }
    const uint8_t *mask = looked.buf;
    free_before[0] = 0;
    for (long long j = q1; j < hi; j++) {
        int free = j >= 0 && j < looked.len && mask[j] && !hit[j - q1];
        free_before[j - q1 + 1] = free_before[j - q1] + free;
    }
    barred[0] = 0;
    for (long long j = q1; j < hi; j++) {
        long long end = j - q1 + w;
        int window = end >= 0 && end < span + 1 && free_before[end] - free_before[j - q1] == w;
        barred[j - q1 + 1] = barred[j - q1] + window;
    }
    out = ll_list(barred, span + 1);
done:
    PyBuffer_Release(&looked);
    PyMem_Free(hits);
    PyMem_Free(free_before);
    PyMem_Free(barred);
    PyMem_Free(hit);
    return out;
}

/* The record of the nearest attributed line from `line` going `step`, over added lines only
 * and at most `skip` unattributed lines with tokens (fill_tokenless' reach): 1 with *record
 * set (borrowed from result), 0 for none, -1 on error. */
static int reach_record(PyObject *result, PyObject *added, PyObject *with_tokens, long long line, int step,
                        long long line_count, long long skip, PyObject **record) {
    long long skipped = 0;
    for (line += step;; line += step) {
        PyObject *at = PyLong_FromLongLong(line);
        if (at == NULL) return -1;
        int in_added = PySequence_Contains(added, at);
        if (in_added <= 0 || line < 0 || line >= line_count) {
            Py_DECREF(at);
            return in_added < 0 ? -1 : 0;
        }
        PyObject *found = PyDict_GetItemWithError(result, at);
        int in_tokens = found == NULL && !PyErr_Occurred() ? PySequence_Contains(with_tokens, at) : 0;
        Py_DECREF(at);
        if (PyErr_Occurred()) return -1;
        if (found != NULL) {
            *record = found;
            return 1;
        }
        if (in_tokens && ++skipped > skip) return 0;
    }
}

/* fill_tokenless(result, added, with_tokens, line_count, skip) -> {line + 1: record}:
 * attribution._fill_tokenless (TOKENLESS_SKIP passed as skip). */
static PyObject *sp_fill_tokenless(PyObject *self, PyObject *args) {
    PyObject *result, *added, *with_tokens;
    long long line_count, skip;
    if (!PyArg_ParseTuple(args, "O!OOLL", &PyDict_Type, &result, &added, &with_tokens, &line_count, &skip))
        return NULL;
    PyObject *filled = PyDict_Copy(result), *out = NULL, *it = NULL, *item;
    long long *lines = NULL;
    Py_ssize_t n = 0;
    if (filled == NULL) return NULL;
    Py_ssize_t size = PyObject_Size(added);
    if (size < 0 || (lines = ll_alloc(size)) == NULL || (it = PyObject_GetIter(added)) == NULL) goto done;
    while ((item = PyIter_Next(it)) != NULL) { /* sorted(added - with_tokens) */
        int64_t line;
        int has = PySequence_Contains(with_tokens, item), bad = has < 0 || as_int64(item, &line) < 0;
        Py_DECREF(item);
        if (bad) goto done;
        if (!has && n < size) lines[n++] = (long long)line;
    }
    if (PyErr_Occurred()) goto done;
    qsort(lines, (size_t)n, sizeof(long long), ll_cmp);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *above = NULL, *below = NULL;
        int up = reach_record(result, added, with_tokens, lines[i], -1, line_count, skip, &above);
        if (up < 0) goto done;
        if (!up) continue;
        int down = reach_record(result, added, with_tokens, lines[i], 1, line_count, skip, &below);
        if (down < 0) goto done;
        int same = down ? PyObject_RichCompareBool(above, below, Py_EQ) : 0;
        if (same < 0) goto done;
        if (!same) continue;
        PyObject *key = PyLong_FromLongLong(lines[i]);
        int rc = key == NULL ? -1 : PyDict_SetItem(filled, key, above);
        Py_XDECREF(key);
        if (rc < 0) goto done;
    }
    out = PyDict_New();
    Py_ssize_t pos = 0;
    PyObject *line, *record, *one = PyLong_FromLong(1);
    while (out != NULL && one != NULL && PyDict_Next(filled, &pos, &line, &record)) {
        PyObject *next = PyNumber_Add(line, one);
        if (next == NULL || PyDict_SetItem(out, next, record) < 0) Py_CLEAR(out);
        Py_XDECREF(next);
    }
    if (one == NULL) Py_CLEAR(out);
    Py_XDECREF(one);
done:
    Py_DECREF(filled);
    Py_XDECREF(it);
    PyMem_Free(lines);
    return out;
}

/* A matched chain's sort key in _chain_owners: (stream != raw, -count, record), then its
 * place in the list (sorted() is stable). */
typedef struct {
    int other_stream;
    int64_t count, record;
    Py_ssize_t index;
} ChainOrder;

static int chain_order_cmp(const void *a, const void *b) {
    const ChainOrder *x = a, *y = b;
    if (x->other_stream != y->other_stream) return x->other_stream - y->other_stream;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->record != y->record) return x->record < y->record ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Give each position of `positions` (an iterable of ints in [0, n)) not yet owned to record. */
static int own_positions(PyObject *positions, int64_t record, int64_t *owner, uint8_t *owned, Py_ssize_t n) {
    PyObject *it = PyObject_GetIter(positions), *item;
    if (it == NULL) return -1;
    while ((item = PyIter_Next(it)) != NULL) {
        int64_t pos;
        int rc = as_int64(item, &pos);
        Py_DECREF(item);
        if (rc < 0) break;
        if (pos < 0 || pos >= n) {
            PyErr_SetString(PyExc_ValueError, "a covered position outside the tokens");
            break;
        }
        if (!owned[pos]) {
            owned[pos] = 1;
            owner[pos] = record;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* A vote for a record: its value and where it was first cast. */
typedef struct {
    int64_t record;
    Py_ssize_t at;
} Vote;

static int vote_cmp(const void *a, const void *b) {
    const Vote *x = a, *y = b;
    if (x->record != y->record) return x->record < y->record ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* chain_owners(chains, line_tokens, n_tokens, raw, extend_share, line_share) -> {line: record}:
 * attribution._chain_owners, with the owner and extension maps as arrays over the token
 * positions instead of dicts, and Counter(owners).most_common(1) as sorted votes (the most
 * votes, the first cast among equals). */
static PyObject *sp_chain_owners_body(PyObject *self, PyObject *args) {
    PyObject *chains_o, *line_tokens;
    Py_ssize_t n;
    long long raw;
    double extend_share, line_share;
    if (!PyArg_ParseTuple(args, "OO!nLdd", &chains_o, &PyDict_Type, &line_tokens, &n, &raw, &extend_share,
                          &line_share))
        return NULL;
    PyObject *chains = PySequence_Fast(chains_o, "chains must be a sequence");
    if (chains == NULL) return NULL;
    Py_ssize_t n_chains = PySequence_Fast_GET_SIZE(chains), cap = 0;
    if (n < 0) n = 0;
    ChainOrder *order = new_array(n_chains, sizeof(ChainOrder));
    int64_t *owner = new_array(n, sizeof(int64_t)), *extended = new_array(n, sizeof(int64_t));
    uint8_t *owned = PyMem_Calloc((size_t)(n > 0 ? n : 1), 1), *has_ext = PyMem_Calloc((size_t)(n > 0 ? n : 1), 1);
    Vote *votes = NULL;
    PyObject *result = NULL;
    if (order == NULL || owner == NULL || extended == NULL || owned == NULL || has_ext == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < n_chains; c++) {
        PyObject *chain = PySequence_Fast_GET_ITEM(chains, c);
        int64_t stream;
        if (!PyTuple_Check(chain) || PyTuple_GET_SIZE(chain) != 5) {
            PyErr_SetString(PyExc_TypeError, "chains must be (stream, count, record, covered, extension) tuples");
            goto done;
        }
        if (as_int64(PyTuple_GET_ITEM(chain, 0), &stream) < 0 || as_int64(PyTuple_GET_ITEM(chain, 1), &order[c].count) < 0
            || as_int64(PyTuple_GET_ITEM(chain, 2), &order[c].record) < 0)
            goto done;
        order[c].other_stream = stream != raw;
        order[c].index = c;
    }
    qsort(order, (size_t)n_chains, sizeof(ChainOrder), chain_order_cmp);
    for (Py_ssize_t c = 0; c < n_chains; c++) {
        PyObject *chain = PySequence_Fast_GET_ITEM(chains, order[c].index);
        if (own_positions(PyTuple_GET_ITEM(chain, 3), order[c].record, owner, owned, n) < 0
            || own_positions(PyTuple_GET_ITEM(chain, 4), order[c].record, extended, has_ext, n) < 0)
            goto done;
    }
    result = PyDict_New();
    if (result == NULL) goto done;
    Py_ssize_t it = 0;
    PyObject *line, *idx;
    while (PyDict_Next(line_tokens, &it, &line, &idx)) { /* _line_owners over the arrays */
        if (!PyList_Check(idx)) {
            PyErr_SetString(PyExc_TypeError, "line tokens must be lists");
            goto fail;
        }
        Py_ssize_t m = PyList_GET_SIZE(idx), cast = 0, held = 0;
        if (2 * m > cap) {
            PyMem_Free(votes);
            cap = 2 * m;
            votes = new_array(cap, sizeof(Vote));
            if (votes == NULL) goto fail;
        }
        int64_t *pos = (int64_t *)(votes + m); /* the line's positions, in the second half */
        for (Py_ssize_t j = 0; j < m; j++) {
            if (as_int64(PyList_GET_ITEM(idx, j), &pos[j]) < 0) goto fail;
            if (pos[j] < 0 || pos[j] >= n) {
                PyErr_SetString(PyExc_ValueError, "a line token outside the tokens");
                goto fail;
            }
            if (owned[pos[j]]) {
                votes[cast].record = owner[pos[j]];
                votes[cast].at = cast;
                cast++;
                held++;
            }
        }
        if ((double)held >= extend_share * (double)m) {
            for (Py_ssize_t j = 0; j < m; j++) {
                if (!owned[pos[j]] && has_ext[pos[j]]) {
                    votes[cast].record = extended[pos[j]];
                    votes[cast].at = cast;
                    cast++;
                }
            }
        }
        if (cast == 0 || (double)cast < line_share * (double)m) continue;
        qsort(votes, (size_t)cast, sizeof(Vote), vote_cmp);
        Py_ssize_t best_count = 0, best_at = 0;
        int64_t best = 0;
        for (Py_ssize_t a = 0, b; a < cast; a = b) {
            for (b = a + 1; b < cast && votes[b].record == votes[a].record; b++) {
            }
            if (b - a > best_count || (b - a == best_count && votes[a].at < best_at)) {
                best_count = b - a;
                best_at = votes[a].at;
                best = votes[a].record;
            }
        }
        PyObject *value = PyLong_FromLongLong((long long)best);
        if (value == NULL || PyDict_SetItem(result, line, value) < 0) {
            Py_XDECREF(value);
            goto fail;
        }
        Py_DECREF(value);
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_DECREF(chains);
    PyMem_Free(order);
    PyMem_Free(owner);
    PyMem_Free(extended);
    PyMem_Free(owned);
    PyMem_Free(has_ext);
    PyMem_Free(votes);
    return result;
}

GC_PAUSED(sp_chain_owners)

/* hits_per_record's by_hash from query_hashes' packed pairs: {found hash: [positions]},
 * positions in order, for the hashes that found holds. */
static int packed_by_hash(PyObject *packed, PyObject *found, PyObject *by_hash) {
    Py_ssize_t m = PyBytes_GET_SIZE(packed) / (Py_ssize_t)(2 * sizeof(int64_t));
    const int64_t *pairs = (const int64_t *)PyBytes_AS_STRING(packed);
    Py_ssize_t f = PyDict_GET_SIZE(found);
    if (f == 0) return 0;
    /* An open-addressing map from a found hash to its key object (borrowed from found). */
    size_t size = 16;
    while (size < 2 * (size_t)f + 1) size <<= 1;
    int64_t *slots = PyMem_Malloc(size * sizeof(int64_t));
    PyObject **keys = PyMem_Calloc(size, sizeof(PyObject *));
    int rc = -1;
    if (slots == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t it = 0;
    PyObject *key, *hits;
    while (PyDict_Next(found, &it, &key, &hits)) {
        if (!PyLong_Check(key)) continue; /* no k-gram hash equals it */
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (v == -1 && PyErr_Occurred()) goto done;
        if (overflow) continue;
        size_t i = (size_t)(((uint64_t)v * 0x9E3779B97F4A7C15ULL) >> 20) & (size - 1);
        while (keys[i] != NULL && slots[i] != (int64_t)v) i = (i + 1) & (size - 1);
        slots[i] = (int64_t)v;
        keys[i] = key;
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        int64_t v = pairs[2 * j + 1];
        size_t i = (size_t)(((uint64_t)v * 0x9E3779B97F4A7C15ULL) >> 20) & (size - 1);
        while (keys[i] != NULL && slots[i] != v) i = (i + 1) & (size - 1);
        if (keys[i] == NULL) continue;
        PyObject *list = dict_list(by_hash, keys[i]);
        if (list == NULL) goto done;
        if (append_new(list, PyLong_FromLongLong((long long)pairs[2 * j])) < 0) goto done;
    }
    rc = 0;
done:
    PyMem_Free(slots);
    PyMem_Free(keys);
    return rc;
}

static PyMethodDef methods[] = {
    {"text_digests", sp_text_digests, METH_VARARGS, "Keyed digests of texts, cached (Hasher.text_digests)."},
    {"token_digests", sp_token_digests, METH_VARARGS, "Keyed digests of tokens in a stream (Hasher.token_digests)."},
    {"kgram_hashes", sp_kgram_hashes, METH_VARARGS, "Keyed k-gram hashes at positions (Hasher.kgram_hashes)."},
    {"span_hashes", sp_span_hashes, METH_VARARGS, "Keyed hashes of token spans (Hasher.span_hashes)."},
    {"tokenize", sp_tokenize, METH_VARARGS, "fingerprint.tokenize's token loop."},
    {"low_complexity_mask", sp_low_complexity_mask, METH_VARARGS, "fingerprint.low_complexity at every start."},
    {"winnow", sp_winnow, METH_VARARGS, "fingerprint.winnow."},
    {"index_lookup", sp_index_lookup, METH_VARARGS, "fpindex.Index.lookup over one stream's columns."},
    {"longest_chain", sp_longest_chain, METH_O, "attribution._longest_chain."},
    {"line_starts", sp_line_starts, METH_O, "attribution._line_starts."},
    {"starts_touching", sp_starts_touching, METH_VARARGS, "attribution._starts_touching."},
    {"hits_per_record", sp_hits_per_record, METH_VARARGS, "attribution._hits_per_record."},
    {"line_tokens", sp_line_tokens, METH_VARARGS, "attribution._line_tokens."},
    {"line_owners", sp_line_owners, METH_VARARGS, "attribution._line_owners."},
    {"touching", sp_touching, METH_VARARGS, "attribution._touching."},
    {"confirmed_pieces", sp_confirmed_pieces, METH_VARARGS, "attribution._confirmed_pieces."},
    {"coverage", sp_coverage, METH_VARARGS, "attribution._coverage."},
    {"take", sp_take, METH_VARARGS, "attribution._take."},
    {"first_lines", sp_first_lines, METH_O, "attribution._first_lines."},
    {"fill_tokenless", sp_fill_tokenless, METH_VARARGS, "attribution._fill_tokenless."},
    {"barred_before", sp_barred_before, METH_VARARGS, "attribution._barred_before."},
    {"occurrences", sp_occurrences, METH_VARARGS, "attribution._occurrences."},
    {"sole_hits", sp_sole_hits, METH_O, "attribution._sole_hits."},
    {"index_mask", sp_index_mask, METH_VARARGS, "attribution._index_mask."},
    {"chain_owners", sp_chain_owners, METH_VARARGS, "attribution._chain_owners."},
    {"start_distances", sp_start_distances, METH_VARARGS, "attribution._start_distances."},
    {"query_hashes", sp_query_hashes, METH_VARARGS, "attribution._query_hashes."},
    {"low_complexity", sp_low_complexity, METH_VARARGS, "fingerprint.low_complexity of one k-gram."},
    {"end_runs", sp_end_runs, METH_VARARGS, "attribution._end_runs, its limits passed in."},
    {"placements", sp_placements, METH_VARARGS, "attribution._placements, its limits passed in."},
    {"end_placements", sp_end_placements, METH_VARARGS, "attribution._end_placements."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "aiguard._speedups",
    "Compiled versions of aiguard.fingerprint's hot loops (optional; same results).", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
