/* nbody: gravitational n-body simulation in double precision, with a
 * softening term. Measures f64 arithmetic, sqrt and division. The bodies are
 * generated from a fixed seed; the printed energies must match bit for bit on
 * every runner (no fused multiply-add, no reassociation at -O2). */
#include <math.h>
#include "bench.h"

#define NBODIES 24

struct body {
    double x, y, z, vx, vy, vz, m;
};

static struct body bodies[NBODIES];

static double energy(void) {
    double e = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        const struct body *b = &bodies[i];
        e += 0.5 * b->m * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b->x - bodies[j].x, dy = b->y - bodies[j].y, dz = b->z - bodies[j].z;
            e -= b->m * bodies[j].m / sqrt(dx * dx + dy * dy + dz * dz + 0.01);
        }
    }
    return e;
}

static void step(double dt) {
    for (int i = 0; i < NBODIES; i++) {
        struct body *b = &bodies[i];
        for (int j = i + 1; j < NBODIES; j++) {
            struct body *c = &bodies[j];
            double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
            double d2 = dx * dx + dy * dy + dz * dz + 0.01;
            double mag = dt / (d2 * sqrt(d2));
            b->vx -= dx * c->m * mag;
            b->vy -= dy * c->m * mag;
            b->vz -= dz * c->m * mag;
            c->vx += dx * b->m * mag;
            c->vy += dy * b->m * mag;
            c->vz += dz * b->m * mag;
        }
    }
    for (int i = 0; i < NBODIES; i++) {
        bodies[i].x += dt * bodies[i].vx;
        bodies[i].y += dt * bodies[i].vy;
        bodies[i].z += dt * bodies[i].vz;
    }
}

int main(int argc, char **argv) {
    long steps = bench_param(argc, argv, 700000);
    uint32_t seed = 7;
    for (int i = 0; i < NBODIES; i++) {
        struct body *b = &bodies[i];
        b->x = (double)(bench_rand(&seed) % 20001) / 1000.0 - 10.0;
        b->y = (double)(bench_rand(&seed) % 20001) / 1000.0 - 10.0;
        b->z = (double)(bench_rand(&seed) % 2001) / 1000.0 - 1.0;
        b->vx = (double)(bench_rand(&seed) % 2001) / 10000.0 - 0.1;
        b->vy = (double)(bench_rand(&seed) % 2001) / 10000.0 - 0.1;
        b->vz = 0.0;
        b->m = 0.5 + (double)(bench_rand(&seed) % 1000) / 1000.0;
    }
    printf("nbody: %d bodies, %ld steps\n", NBODIES, steps);
    printf("energy before %.9f\n", energy());
    for (long s = 0; s < steps; s++) step(0.001);
    printf("energy after  %.9f\n", energy());
    return 0;
}
