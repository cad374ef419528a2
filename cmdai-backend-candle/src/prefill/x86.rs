//! The AVX2 and FMA kernels of the plain-layout products: a Q4_K, Q6_K, Q5_0 or Q8_0 weight
//! row's dot products with up to four input rows.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{BLOCK, BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, BlockQ8K, Kernel};

/// Byte shuffles that spread 16-bit scale `i` over a 256-bit register (`i` < 8).
const SCALE_PAIRS: [[u8; 32]; 8] = {
    let mut table = [[0u8; 32]; 8];
    let mut i = 0;
    while i < 8 {
        let mut j = 0;
        while j < 16 {
            table[i][2 * j] = 2 * i as u8;
            table[i][2 * j + 1] = 2 * i as u8 + 1;
            j += 1;
        }
        i += 1;
    }
    table
};

/// Byte shuffles that spread scale bytes `2i` (low half) and `2i + 1` (high half) over 16
/// bytes (`i` < 8).
const SCALE_BYTES: [[u8; 16]; 8] = {
    let mut table = [[0u8; 16]; 8];
    let mut i = 0;
    while i < 8 {
        let mut j = 0;
        while j < 8 {
            table[i][j] = 2 * i as u8;
            table[i][j + 8] = 2 * i as u8 + 1;
            j += 1;
        }
        i += 1;
    }
    table
};

/// The sum of the 8 floats of `x`.
#[target_feature(enable = "avx2,fma")]
fn sum(x: __m256) -> f32 {
    let x = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)))
}

/// A Q4_K block's eight 6-bit scales (low 128 bits) and minimums (high), as 16-bit values.
#[target_feature(enable = "avx2,fma")]
fn q4k_scales_and_mins(packed: &[u8; 12]) -> __m256i {
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const TOP2: u32 = 0x0303_0303;
    let word = |i: usize| {
        u32::from_le_bytes([
            packed[4 * i],
            packed[4 * i + 1],
            packed[4 * i + 2],
            packed[4 * i + 3],
        ])
    };
    let (a, b, c) = (word(0), word(1), word(2));
    let scales_lo = a & LOW6;
    let scales_hi = (c & LOW4) | (((a >> 6) & TOP2) << 4);
    let mins_lo = b & LOW6;
    let mins_hi = ((c >> 4) & LOW4) | (((b >> 6) & TOP2) << 4);
    _mm256_cvtepu8_epi16(_mm_set_epi32(
        mins_hi as i32,
        mins_lo as i32,
        scales_hi as i32,
        scales_lo as i32,
    ))
}

impl Kernel for BlockQ4K {
    type Input = BlockQ8K;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots<const R: usize>(weights: &[Self], rows: [&[BlockQ8K]; R]) -> [f32; R] {
        let low4 = _mm256_set1_epi8(0xF);
        let mut acc = [_mm256_setzero_ps(); R];
        for (b, x) in weights.iter().enumerate() {
            let d = x.d.to_f32();
            let dmin = x.dmin.to_f32();
            let scales_and_mins = q4k_scales_and_mins(&x.scales);
            let mins = _mm256_extracti128_si256(scales_and_mins, 1);
            let scales = _mm256_extracti128_si256(scales_and_mins, 0);
            let scales = _mm256_set_m128i(scales, scales);

            // The minimums: dmin · Σ min_j · (sum of the input's values in sub-block j).
            for r in 0..R {
                let y = &rows[r][b];
                // SAFETY: `bsums` is 16 i16 values, 32 bytes.
                let sums = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
                let per32 = _mm_hadd_epi16(
                    _mm256_extracti128_si256(sums, 0),
                    _mm256_extracti128_si256(sums, 1),
                );
                let prod = _mm256_zextsi128_si256(_mm_madd_epi16(mins, per32));
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(-y.d * dmin),
                    _mm256_cvtepi32_ps(prod),
                    acc[r],
                );
            }

            let mut sumi = [_mm256_setzero_si256(); R];
            for j in 0..BLOCK / 64 {
                // SAFETY: the tables have 8 entries of 32 bytes; 2j + 1 < 8.
                let (scale_lo, scale_hi) = unsafe {
                    (
                        _mm256_shuffle_epi8(
                            scales,
                            _mm256_loadu_si256(SCALE_PAIRS[2 * j].as_ptr().cast()),
                        ),
                        _mm256_shuffle_epi8(
                            scales,
                            _mm256_loadu_si256(SCALE_PAIRS[2 * j + 1].as_ptr().cast()),
                        ),
                    )
                };
                // SAFETY: `qs` has 128 bytes; 32j + 32 <= 128.
                let bits = unsafe { _mm256_loadu_si256(x.qs.as_ptr().add(32 * j).cast()) };
                let q_lo = _mm256_and_si256(bits, low4);
                let q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
                for r in 0..R {
                    let y = rows[r][b].qs.as_ptr();
                    // SAFETY: `qs` has 256 bytes; 64j + 64 <= 256.
                    let (y_lo, y_hi) = unsafe {
                        (
                            _mm256_loadu_si256(y.add(64 * j).cast()),
                            _mm256_loadu_si256(y.add(64 * j + 32).cast()),
                        )
                    };
                    let lo = _mm256_madd_epi16(scale_lo, _mm256_maddubs_epi16(q_lo, y_lo));
                    let hi = _mm256_madd_epi16(scale_hi, _mm256_maddubs_epi16(q_hi, y_hi));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_add_epi32(lo, hi));
                }
            }
            for r in 0..R {
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(rows[r][b].d * d),
                    _mm256_cvtepi32_ps(sumi[r]),
                    acc[r],
                );
            }
        }
        let mut dots = [0f32; R];
        for r in 0..R {
            dots[r] = sum(acc[r]);
        }
        dots
    }
}

impl Kernel for BlockQ6K {
    type Input = BlockQ8K;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots<const R: usize>(weights: &[Self], rows: [&[BlockQ8K]; R]) -> [f32; R] {
        let low4 = _mm256_set1_epi8(0xF);
        let low2 = _mm256_set1_epi8(3);
        let mut acc = [_mm256_setzero_ps(); R];
        for (b, x) in weights.iter().enumerate() {
            // SAFETY: `scales` is 16 bytes.
            let scales = unsafe { _mm_loadu_si128(x.scales.as_ptr().cast()) };
            let mut sumi = [_mm256_setzero_si256(); R];
            // Values are stored as 0..63 for -32..31: the products use the stored values,
            // and 32 · Σ scale_g · (sum of the input's values in group g) is taken off after.
            for j in 0..BLOCK / 128 {
                // SAFETY: `ql` has 128 bytes and `qh` 64; 64j + 64 <= 128, 32j + 32 <= 64.
                let (low_a, low_b, high) = unsafe {
                    (
                        _mm256_loadu_si256(x.ql.as_ptr().add(64 * j).cast()),
                        _mm256_loadu_si256(x.ql.as_ptr().add(64 * j + 32).cast()),
                        _mm256_loadu_si256(x.qh.as_ptr().add(32 * j).cast()),
                    )
                };
                for i in 0..4 {
                    let low = match i {
                        0 => _mm256_and_si256(low_a, low4),
                        1 => _mm256_and_si256(low_b, low4),
                        2 => _mm256_and_si256(_mm256_srli_epi16(low_a, 4), low4),
                        _ => _mm256_and_si256(_mm256_srli_epi16(low_b, 4), low4),
                    };
                    let top = match i {
                        0 => high,
                        1 => _mm256_srli_epi16(high, 2),
                        2 => _mm256_srli_epi16(high, 4),
                        _ => _mm256_srli_epi16(high, 6),
                    };
                    let q = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(top, low2), 4));
                    // SAFETY: 8 entries of 16 bytes; 4j + i < 8.
                    let shuffle =
                        unsafe { _mm_loadu_si128(SCALE_BYTES[4 * j + i].as_ptr().cast()) };
                    let scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, shuffle));
                    for r in 0..R {
                        // SAFETY: `qs` has 256 bytes; 128j + 32i + 32 <= 256.
                        let y = unsafe {
                            _mm256_loadu_si256(rows[r][b].qs.as_ptr().add(128 * j + 32 * i).cast())
                        };
                        let p = _mm256_madd_epi16(scale, _mm256_maddubs_epi16(q, y));
                        sumi[r] = _mm256_add_epi32(sumi[r], p);
                    }
                }
            }
            let d = x.d.to_f32();
            let scales = _mm256_cvtepi8_epi16(scales);
            for r in 0..R {
                let y = &rows[r][b];
                // SAFETY: `bsums` is 16 i16 values, 32 bytes.
                let sums = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
                let offset = _mm256_slli_epi32(_mm256_madd_epi16(scales, sums), 5);
                acc[r] = _mm256_fmadd_ps(
                    _mm256_set1_ps(y.d * d),
                    _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[r], offset)),
                    acc[r],
                );
            }
        }
        let mut dots = [0f32; R];
        for r in 0..R {
            dots[r] = sum(acc[r]);
        }
        dots
    }
}

/// The products of the 32 signed bytes `x` and `y`, summed in pairs of pairs: eight i32 as
/// floats (ggml's `mul_sum_i8_pairs_float`; `vpmaddubsw` takes one unsigned operand, so `x`'s
/// sign moves to `y`).
#[target_feature(enable = "avx2,fma")]
fn products(x: __m256i, y: __m256i) -> __m256 {
    let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

/// The dot products of one weight row of 32-value blocks with `R` input rows, each weight block
/// unpacked to 32 signed bytes by `unpack` once for all rows.
#[target_feature(enable = "avx2,fma")]
fn small_block_dots<W, const R: usize>(
    weights: &[W],
    rows: [&[BlockQ8_0]; R],
    unpack: impl Fn(&W) -> (f32, __m256i),
) -> [f32; R] {
    let mut acc = [_mm256_setzero_ps(); R];
    for (b, x) in weights.iter().enumerate() {
        let (d, q) = unpack(x);
        for r in 0..R {
            let y = &rows[r][b];
            // SAFETY: `qs` is 32 bytes.
            let yq = unsafe { _mm256_loadu_si256(y.qs.as_ptr().cast()) };
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d * y.d.to_f32()), products(q, yq), acc[r]);
        }
    }
    let mut dots = [0f32; R];
    for r in 0..R {
        dots[r] = sum(acc[r]);
    }
    dots
}

impl Kernel for BlockQ5_0 {
    type Input = BlockQ8_0;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots<const R: usize>(weights: &[Self], rows: [&[BlockQ8_0]; R]) -> [f32; R] {
        // Each bit of a 32-bit word to a byte of its own: byte i of the result is all ones
        // where bit i is set (ggml's `bytes_from_bits_32`).
        let spread = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let other_bits = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
        let low4 = _mm256_set1_epi8(0xF);
        let high4 = _mm256_set1_epi8(0xF0u8 as i8);
        small_block_dots(weights, rows, |x| {
            // SAFETY: `qs` is 16 bytes.
            let packed = unsafe { _mm_loadu_si128(x.qs.as_ptr().cast()) };
            // Values 0-15 from the low nibbles, 16-31 from the high ones.
            let nibbles =
                _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low4);
            let bits = _mm256_shuffle_epi8(_mm256_set1_epi32(i32::from_le_bytes(x.qh)), spread);
            let set = _mm256_cmpeq_epi8(_mm256_or_si256(bits, other_bits), _mm256_set1_epi8(-1));
            // q - 16: the nibble where the fifth bit is set, else the nibble with 0xF0 (-16).
            let q = _mm256_or_si256(nibbles, _mm256_andnot_si256(set, high4));
            (x.d.to_f32(), q)
        })
    }
}

impl Kernel for BlockQ8_0 {
    type Input = BlockQ8_0;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots<const R: usize>(weights: &[Self], rows: [&[BlockQ8_0]; R]) -> [f32; R] {
        small_block_dots(weights, rows, |x| {
            // SAFETY: `qs` is 32 bytes.
            let q = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
            (x.d.to_f32(), q)
        })
    }
}
