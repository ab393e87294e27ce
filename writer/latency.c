/* latency.c - percentiles of the last N write durations, for /stats. */
#include "latency.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct latency {
    pthread_mutex_t lock;
    double *ring;
    size_t window;
    size_t next;
    size_t count;
};

latency *latency_new(size_t window)
{
    if (window == 0)
        window = 1;
    latency *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->ring = calloc(window, sizeof *l->ring);
    if (l->ring == NULL) {
        free(l);
        return NULL;
    }
    l->window = window;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void latency_free(latency *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->ring);
    free(l);
}

void latency_add(latency *l, double ms)
{
    pthread_mutex_lock(&l->lock);
    l->ring[l->next] = ms;
    l->next = (l->next + 1) % l->window;
    if (l->count < l->window)
        l->count++;
    pthread_mutex_unlock(&l->lock);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rank(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    if (p <= 0)
        return sorted[0];
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return sorted[r - 1];
}

/* Copies the window sorted into a new array; NULL when empty or OOM. */
static double *sorted_copy(latency *l, size_t *n)
{
    pthread_mutex_lock(&l->lock);
    *n = l->count;
    double *c = *n ? malloc(*n * sizeof *c) : NULL;
    if (c != NULL)
        memcpy(c, l->ring,
               *n * sizeof *c); /* the first count slots are the filled ones */
    pthread_mutex_unlock(&l->lock);
    if (c == NULL) {
        *n = 0;
        return NULL;
    }
    qsort(c, *n, sizeof *c, cmp_double);
    return c;
}

double latency_percentile(latency *l, double p, size_t *count)
{
    size_t n;
    double *s = sorted_copy(l, &n);
    double v = rank(s, n, p);
    free(s);
    if (count != NULL)
        *count = n;
    return v;
}

size_t latency_summary(latency *l, double *p50, double *p90, double *p99)
{
    size_t n;
    double *s = sorted_copy(l, &n);
    *p50 = rank(s, n, 50);
    *p90 = rank(s, n, 90);
    *p99 = rank(s, n, 99);
    free(s);
    return n;
}
