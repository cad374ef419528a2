// The one-token decode step on CUDA, fused (see src/cuda_decode.rs).
//
// candle runs a decode step as about fifty small operations per layer, each with its own
// allocation and launch; on an H100 the step is bound by those launches, not by the GPU. These
// kernels do everything between the quantized matrix-vector products (which stay candle's MMVQ
// kernels) in five launches per layer, on buffers allocated once, with the position read from
// device memory so the whole step can be replayed as one CUDA graph.
//
// Activations going into a matrix-vector product are written as q8_1 blocks (32 values, a half
// scale and a half sum), the format candle's kernels read. Every kernel that writes q8_1 has one
// warp per block of 32 consecutive values.

#include <cuda_fp16.h>
#include <stdint.h>

#define QK8_1 32

typedef struct {
    half2 ds;  // ds.x = scale, ds.y = sum of the values
    int8_t qs[QK8_1];
} block_q8_1;

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, offset);
    }
    return v;
}

static __device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, offset));
    }
    return v;
}

// The sum of `v` over the block, returned to every thread. blockDim.x is a multiple of 32.
static __device__ float block_sum(float v) {
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // `partial` may still be read by an earlier call
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    const int warps = blockDim.x >> 5;
    return warp_sum(lane < warps ? partial[lane] : 0.0f);
}

// Stores value `x` of element `i` into q8_1 blocks `y`; the 32 lanes of the calling warp hold
// the 32 elements of one block, in order.
static __device__ __forceinline__ void store_q8_1(float x, block_q8_1 *y, int i) {
    const float amax = warp_max(fabsf(x));
    const float sum = warp_sum(x);
    const float d = amax / 127.0f;
    block_q8_1 *block = y + i / QK8_1;
    block->qs[i % QK8_1] = amax == 0.0f ? 0 : (int8_t)roundf(x / d);
    if (i % QK8_1 == 0) {
        block->ds = make_half2(__float2half(d), __float2half(sum));
    }
}

#define NORM_MAX_PER_THREAD 16

// x += delta (itself RMS-normalised with `delta_norm` first when given), or x *= x_scale when
// there is no delta; then y = q8_1(rms_norm(x) * norm), or y_f32 = rms_norm(x) * norm when
// y_f32 is given. One block of up to 512 threads per row of n values (rows are consecutive in
// x, delta, y and y_f32), each thread holding its (at most NORM_MAX_PER_THREAD) values in
// registers between the steps; n_padded is a multiple of 32 and of blockDim.x, and the q8_1
// values past n are written as zeros.
extern "C" __global__ void __launch_bounds__(512) add_norm_q8(
    float *__restrict__ x, const float *__restrict__ delta, const float *__restrict__ delta_norm,
    const float x_scale, const float *__restrict__ norm, block_q8_1 *__restrict__ y,
    float *__restrict__ y_f32, const int n, const int n_padded, const float eps) {
    const size_t row = blockIdx.x;
    x += row * n;
    if (delta != nullptr) {
        delta += row * n;
    }
    float v[NORM_MAX_PER_THREAD], d[NORM_MAX_PER_THREAD], w[NORM_MAX_PER_THREAD];
    const int per_thread = n_padded / blockDim.x;
    float delta_squares = 0.0f;
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
        const int i = threadIdx.x + k * blockDim.x;
        const bool in = k < per_thread && i < n;
        v[k] = in ? x[i] : 0.0f;
        d[k] = in && delta != nullptr ? delta[i] : 0.0f;
        w[k] = in ? norm[i] : 0.0f;
        delta_squares += d[k] * d[k];
    }
    if (delta != nullptr) {
        float scale = 1.0f;
        if (delta_norm != nullptr) {
            scale = rsqrtf(block_sum(delta_squares) / n + eps);
        }
#pragma unroll
        for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (k < per_thread && i < n) {
                v[k] += delta_norm != nullptr ? d[k] * scale * delta_norm[i] : d[k];
                x[i] = v[k];
            }
        }
    } else if (x_scale != 1.0f) {
#pragma unroll
        for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (k < per_thread && i < n) {
                v[k] *= x_scale;
                x[i] = v[k];
            }
        }
    }
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
        squares += v[k] * v[k];
    }
    const float scale = rsqrtf(block_sum(squares) / n + eps);
    if (y_f32 != nullptr) {
        y_f32 += row * n;
#pragma unroll
        for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
            const int i = threadIdx.x + k * blockDim.x;
            if (k < per_thread && i < n) {
                y_f32[i] = v[k] * scale * w[k];
            }
        }
        return;
    }
    y += row * (n_padded / QK8_1);
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; ++k) {
        if (k < per_thread) {  // the same for the whole block
            store_q8_1(v[k] * scale * w[k], y, threadIdx.x + k * blockDim.x);
        }
    }
}

// Adds the biases to the projected queries, keys and values, normalises each query and key head
// where the model has per-head norms, rotates queries and keys for their position, writes the
// queries to q_out and the keys and values into the caches ([kv_heads, capacity, head_dim]) at
// that position. Token y of the launch (blockIdx.y, a row of q_in, k_in, v_in and q_out) is at
// position *pos_at + y. Blocks: (heads + 2 * kv_heads, tokens), one head each; threads:
// head_dim; shared: head_dim floats. Token y's queries, keys and values start y times q_stride,
// k_stride and v_stride values into q_in, k_in and v_in (they may be parts of one product's rows).
extern "C" __global__ void qkv_rope(
    const float *__restrict__ q_in, const float *__restrict__ k_in, const float *__restrict__ v_in,
    const float *__restrict__ q_bias, const float *__restrict__ k_bias,
    const float *__restrict__ v_bias, const float *__restrict__ q_norm,
    const float *__restrict__ k_norm, const float *__restrict__ cos_table,
    const float *__restrict__ sin_table, const int *__restrict__ pos_at,
    float *__restrict__ q_out, float *__restrict__ k_cache, float *__restrict__ v_cache,
    const int heads, const int kv_heads, const int head_dim, const int capacity,
    const int interleaved, const float eps, const int q_stride, const int k_stride,
    const int v_stride) {
    extern __shared__ float head[];
    const int t = threadIdx.x;
    const int token = blockIdx.y;
    const int pos = *pos_at + token;
    q_in += (size_t)token * q_stride;
    k_in += (size_t)token * k_stride;
    v_in += (size_t)token * v_stride;
    q_out += (size_t)token * heads * head_dim;
    int h = blockIdx.x;
    const float *src, *bias, *norm;
    float *dst;
    bool rotate = true;
    if (h < heads) {
        src = q_in;
        bias = q_bias;
        norm = q_norm;
        dst = q_out + (size_t)h * head_dim;
    } else if ((h -= heads) < kv_heads) {
        src = k_in;
        bias = k_bias;
        norm = k_norm;
        dst = k_cache + ((size_t)h * capacity + pos) * head_dim;
    } else {
        h -= kv_heads;
        src = v_in;
        bias = v_bias;
        norm = nullptr;
        dst = v_cache + ((size_t)h * capacity + pos) * head_dim;
        rotate = false;
    }
    const int at = h * head_dim + t;
    float v = src[at] + (bias != nullptr ? bias[at] : 0.0f);
    if (norm != nullptr) {
        v *= rsqrtf(block_sum(v * v) / head_dim + eps) * norm[t];
    }
    if (rotate) {
        head[t] = v;
        __syncthreads();
        const int half_dim = head_dim / 2;
        if (interleaved) {
            const int i = t / 2;
            const float c = cos_table[pos * half_dim + i], s = sin_table[pos * half_dim + i];
            v = t % 2 == 0 ? v * c - head[t + 1] * s : head[t - 1] * s + v * c;
        } else {
            const int i = t % half_dim;
            const float c = cos_table[pos * half_dim + i], s = sin_table[pos * half_dim + i];
            v = t < half_dim ? v * c - head[t + half_dim] * s : v * c + head[t - half_dim] * s;
        }
    }
    dst[t] = v;
}

#define MAX_HEAD_DIM 256
#define ATTENTION_WARPS 4
// The fewest positions a block of the attention takes: a short context runs in one block (no
// partial results to merge), a long one in up to gridDim.y blocks.
#define MIN_RUN 32

// Attention of each new query head over the cached positions up to its own (the latest
// `window` of them when window > 0), written as q8_1 for the output projection, or as f32 to
// out_f32 when that is given. Query y of the launch (blockIdx.z, a row of q and of the output)
// is at position *pos_at + y.
//
// Blocks: (heads, splits, queries); threads: 32 * ATTENTION_WARPS. A query's positions are cut
// into runs of at least MIN_RUN, at most `splits` (gridDim.y) of them, one per block, so that a
// long context keeps many SMs busy; the blocks past the runs a query needs return at once. The
// number of blocks does not depend on the position, so the launch can be replayed from a graph.
// Each warp runs an online softmax over every ATTENTION_WARPS-th position of its block's run;
// the block merges its warps. With one run the block writes the output; otherwise it writes its
// partial result (running maximum, total, weighted sum) to `partial`, and the last block of a
// query head to finish (counted in `done`, which it resets) merges the runs. head_dim is a
// multiple of 32 and at most MAX_HEAD_DIM; gridDim.y is at most 32.
extern "C" __global__ void attention(
    const float *__restrict__ q, const float *__restrict__ k_cache,
    const float *__restrict__ v_cache, block_q8_1 *__restrict__ out, float *__restrict__ out_f32,
    const int *__restrict__ pos_at, const int heads, const int kv_heads, const int head_dim,
    const int capacity, const int window, const float scale, float *__restrict__ partial,
    unsigned int *__restrict__ done) {
    constexpr int PER_LANE = MAX_HEAD_DIM / 32;
    __shared__ float warp_max_score[ATTENTION_WARPS];
    __shared__ float warp_total[ATTENTION_WARPS];
    __shared__ float warp_acc[ATTENTION_WARPS][MAX_HEAD_DIM];
    __shared__ bool last;

    const int token = blockIdx.z;
    // This query head among all of the launch's: its row of q and of the output, its counter.
    const int h = blockIdx.x;
    const int slot = token * heads + h;
    const int split = blockIdx.y;
    const int len = *pos_at + token + 1;
    const int start = window > 0 && len > window ? len - window : 0;
    // Every run is non-empty: with runs = ceil(span / MIN_RUN) <= 32, (runs - 1) * run < span.
    const int span = len - start;
    const int runs = min((int)gridDim.y, (span + MIN_RUN - 1) / MIN_RUN);
    if (split >= runs) {
        return;
    }
    const int run = (span + runs - 1) / runs;
    const int from = start + split * run;
    const int to = min(from + run, len);
    const int kv_head = h / (heads / kv_heads);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int per_lane = head_dim / 32;
    const float *keys = k_cache + (size_t)kv_head * capacity * head_dim;
    const float *values = v_cache + (size_t)kv_head * capacity * head_dim;

    float query[PER_LANE];
    float acc[PER_LANE];
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) {
        query[j] = j < per_lane ? q[(size_t)slot * head_dim + lane + 32 * j] * scale : 0.0f;
        acc[j] = 0.0f;
    }
    float running_max = -INFINITY, total = 0.0f;
    for (int p = from + warp; p < to; p += ATTENTION_WARPS) {
        const float *key = keys + (size_t)p * head_dim;
        const float *value = values + (size_t)p * head_dim;
        // Keys and values are loaded together, so both loads are in flight at once.
        float k[PER_LANE], v[PER_LANE];
#pragma unroll
        for (int j = 0; j < PER_LANE; ++j) {
            k[j] = j < per_lane ? key[lane + 32 * j] : 0.0f;
            v[j] = j < per_lane ? value[lane + 32 * j] : 0.0f;
        }
        float score = 0.0f;
#pragma unroll
        for (int j = 0; j < PER_LANE; ++j) {
            score += query[j] * k[j];
        }
        score = warp_sum(score);
        const float new_max = fmaxf(running_max, score);
        const float correction = __expf(running_max - new_max);
        const float weight = __expf(score - new_max);
        total = total * correction + weight;
#pragma unroll
        for (int j = 0; j < PER_LANE; ++j) {
            acc[j] = acc[j] * correction + weight * v[j];
        }
        running_max = new_max;
    }
    if (lane == 0) {
        warp_max_score[warp] = running_max;
        warp_total[warp] = total;
    }
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) {
        if (j < per_lane) {
            warp_acc[warp][lane + 32 * j] = acc[j];
        }
    }
    __syncthreads();

    // This block's run, merged over its warps (a warp with no position has a maximum of -inf).
    float block_max = -INFINITY;
    for (int w = 0; w < ATTENTION_WARPS; ++w) {
        block_max = fmaxf(block_max, warp_max_score[w]);
    }
    float block_total = 0.0f;
    for (int w = 0; w < ATTENTION_WARPS; ++w) {
        block_total += warp_max_score[w] == -INFINITY
            ? 0.0f
            : warp_total[w] * __expf(warp_max_score[w] - block_max);
    }
    // Whole warps take whole q8_1 blocks: head_dim is a multiple of 32.
    float *mine = partial + ((size_t)slot * gridDim.y + split) * (head_dim + 2);
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        float o = 0.0f;
        for (int w = 0; w < ATTENTION_WARPS; ++w) {
            o += warp_max_score[w] == -INFINITY
                ? 0.0f
                : warp_acc[w][i] * __expf(warp_max_score[w] - block_max);
        }
        if (runs > 1) {
            mine[2 + i] = o;
        } else if (out_f32 != nullptr) {
            out_f32[(size_t)slot * head_dim + i] = o / block_total;
        } else {
            store_q8_1(o / block_total, out, slot * head_dim + i);
        }
    }
    if (runs == 1) {
        return;
    }
    if (threadIdx.x == 0) {
        mine[0] = block_max;
        mine[1] = block_total;
    }
    __threadfence();  // every thread's part of the result is visible before the count says so
    __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(&done[slot], 1) == runs - 1;
    }
    __syncthreads();
    if (!last) {
        return;
    }

    // The last block of this head merges the runs: lane s of every warp holds run s's
    // maximum and its weight against the overall maximum.
    __threadfence();
    const float *all = partial + (size_t)slot * gridDim.y * (head_dim + 2);
    const float m = lane < runs ? __ldcg(all + lane * (head_dim + 2)) : -INFINITY;
    const float overall_max = warp_max(m);
    const float weight = m == -INFINITY ? 0.0f : __expf(m - overall_max);
    const float overall_total =
        warp_sum(lane < runs ? __ldcg(all + lane * (head_dim + 2) + 1) * weight : 0.0f);
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        float o = 0.0f;
        for (int r = 0; r < runs; ++r) {
            o += __ldcg(all + r * (head_dim + 2) + 2 + i) * __shfl_sync(0xffffffff, weight, r);
        }
        if (out_f32 != nullptr) {
            out_f32[(size_t)slot * head_dim + i] = o / overall_total;
        } else {
            store_q8_1(o / overall_total, out, slot * head_dim + i);
        }
    }
    if (threadIdx.x == 0) {
        done[slot] = 0;
    }
}

// y = q8_1(act(gate) * up), or y_f32 = act(gate) * up when y_f32 is given, act being SiLU or
// (gelu != 0) GELU with the tanh approximation. Row blockIdx.y of n values, in_stride values
// after the previous one in gate and up; the threads of a row cover n_padded (a multiple of 32),
// and the q8_1 values past n are zeros.
extern "C" __global__ void act_mul_q8(
    const float *__restrict__ gate, const float *__restrict__ up, block_q8_1 *__restrict__ y,
    float *__restrict__ y_f32, const int n, const int n_padded, const int gelu,
    const int in_stride) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_padded) {
        return;  // whole warps, as n_padded and blockDim.x are multiples of 32
    }
    const size_t row = blockIdx.y;
    gate += row * in_stride;
    up += row * in_stride;
    float v = 0.0f;
    if (i < n) {
        const float g = gate[i];
        const float a = gelu
            ? 0.5f * g * (1.0f + tanhf(0.7978845608f * (g + 0.044715f * g * g * g)))
            : g / (1.0f + __expf(-g));
        v = a * up[i];
    }
    if (y_f32 != nullptr) {
        if (i < n) {
            y_f32[row * n + i] = v;
        }
        return;
    }
    store_q8_1(v, y + row * (n_padded / QK8_1), i);
}
