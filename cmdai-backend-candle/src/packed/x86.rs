//! The kernels of the tiles for x86-64: AVX-512 VNNI, and AVX2 with FMA and F16C, each the dot
//! products of one row group's sixteen rows with up to four input rows.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{BlockQ8K, Q4KTile, Q6KTile, ROWS};

/// Asks for the cache lines of `tile`, which a kernel will read soon. Decode reads each
/// weight once and is bound by how much memory one core keeps in flight; asking two tiles
/// ahead made decode faster (see docs/PERFORMANCE.md, "Figures that were code comments").
#[target_feature(enable = "avx2,fma,f16c")]
fn prefetch<T>(tile: &T) {
    for line in 0..std::mem::size_of::<T>() / 64 {
        prefetch_line(tile, line);
    }
}

/// Asks for cache line `line` of `tile`, if it has that many. For one input row (decode) the
/// kernels ask for a tile ahead a line or two per step of their work on the present one, rather
/// than all its lines at once: on a Zen 3 the burst filled the core's queue of misses and
/// stalled it (AVX2 decode 20-27% faster with the lines spread, no change on a Sapphire Rapids:
/// "Tiles streamed in the order they are read" in docs/PERFORMANCE.md).
#[target_feature(enable = "avx2,fma,f16c")]
fn prefetch_line<T>(tile: &T, line: usize) {
    if line < std::mem::size_of::<T>() / 64 {
        // SAFETY: a prefetch reads nothing; the address is inside the tile.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((tile as *const T).cast::<i8>().add(64 * line)) };
    }
}

/// [`Packed::dots`](super::Packed::dots) for Q4_K.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; every input row has `tiles.len()` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn q4k_dots<const R: usize>(
    tiles: &[Q4KTile],
    ahead: &[Q4KTile],
    rows: [&[BlockQ8K]; R],
    out: &mut [[f32; ROWS]; super::GROUP],
) {
    let low4 = _mm512_set1_epi8(0xF);
    let mut acc = [_mm512_setzero_ps(); R];
    for (b, tile) in tiles.iter().enumerate() {
        // Prompts ask for the whole tile ahead at once, one row a line or two of it a step.
        let ahead = ahead.get(b);
        if let Some(ahead) = ahead.filter(|_| R > 1) {
            prefetch(ahead);
        }
        let mut sumi = [_mm512_setzero_si512(); R];
        for c in 0..4 {
            let mut lo = [_mm512_setzero_si512(); R];
            let mut hi = [_mm512_setzero_si512(); R];
            for g in 0..8 {
                if let Some(ahead) = ahead.filter(|_| R == 1) {
                    prefetch_line(ahead, 2 * (8 * c + g));
                    prefetch_line(ahead, 2 * (8 * c + g) + 1);
                }
                // SAFETY: `qs` has 32 rows of 64 bytes, aligned to 64 (the tile is).
                let bits = unsafe { _mm512_load_si512(tile.qs[8 * c + g].as_ptr().cast()) };
                let q_lo = _mm512_and_si512(bits, low4);
                let q_hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), low4);
                for r in 0..R {
                    let y = rows[r][b].qs.as_ptr();
                    // SAFETY: `qs` has 256 values; 64c + 32 + 4g + 4 <= 256.
                    let (y_lo, y_hi) = unsafe {
                        (
                            _mm512_set1_epi32(y.add(64 * c + 4 * g).cast::<i32>().read_unaligned()),
                            _mm512_set1_epi32(
                                y.add(64 * c + 32 + 4 * g).cast::<i32>().read_unaligned(),
                            ),
                        )
                    };
                    lo[r] = _mm512_dpbusd_epi32(lo[r], q_lo, y_lo);
                    hi[r] = _mm512_dpbusd_epi32(hi[r], q_hi, y_hi);
                }
            }
            // SAFETY: each scale row is 16 bytes.
            let (scale_lo, scale_hi) = unsafe {
                (
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.scales[2 * c].as_ptr().cast())),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.scales[2 * c + 1].as_ptr().cast())),
                )
            };
            for r in 0..R {
                sumi[r] = _mm512_add_epi32(
                    sumi[r],
                    _mm512_add_epi32(
                        _mm512_mullo_epi32(lo[r], scale_lo),
                        _mm512_mullo_epi32(hi[r], scale_hi),
                    ),
                );
            }
        }
        // SAFETY: `d` and `dmin` are 16 half floats, 32 bytes each.
        let (d, dmin) = unsafe {
            (
                _mm512_cvtph_ps(_mm256_loadu_si256(tile.d.as_ptr().cast())),
                _mm512_cvtph_ps(_mm256_loadu_si256(tile.dmin.as_ptr().cast())),
            )
        };
        for r in 0..R {
            let y = &rows[r][b];
            // The minimums: Σ_j min_j · (sum of the input's values in sub-block j).
            let mut mins = _mm512_setzero_si512();
            for j in 0..8 {
                // SAFETY: each minimum row is 16 bytes.
                let min =
                    unsafe { _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.mins[j].as_ptr().cast())) };
                let sum = i32::from(y.bsums[2 * j]) + i32::from(y.bsums[2 * j + 1]);
                mins = _mm512_add_epi32(mins, _mm512_mullo_epi32(min, _mm512_set1_epi32(sum)));
            }
            let yd = _mm512_set1_ps(y.d);
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(sumi[r]), acc[r]);
            acc[r] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(mins), acc[r]);
        }
    }
    for r in 0..R {
        // SAFETY: a row of `out` is 16 floats.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
    }
}
/// [`Packed::dots`](super::Packed::dots) for Q6_K. A value is `ql | qh << 4` minus 32; the
/// 32 is taken off once per sub-block, through the sums of the input's values there.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; every input row has `tiles.len()` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn q6k_dots<const R: usize>(
    tiles: &[Q6KTile],
    ahead: &[Q6KTile],
    rows: [&[BlockQ8K]; R],
    out: &mut [[f32; ROWS]; super::GROUP],
) {
    let low4 = _mm512_set1_epi8(0xF);
    let bits01 = _mm512_set1_epi8(0x03);
    let bits23 = _mm512_set1_epi8(0x0C);
    let bits45 = _mm512_set1_epi8(0x30);
    let mut acc = [_mm512_setzero_ps(); R];
    for (b, tile) in tiles.iter().enumerate() {
        // Prompts ask for the whole tile ahead at once, one row a line of it a step.
        let ahead = ahead.get(b);
        if let Some(ahead) = ahead.filter(|_| R > 1) {
            prefetch(ahead);
        }
        let mut sumi = [_mm512_setzero_si512(); R];
        let mut offset = [_mm512_setzero_si512(); R];
        // Values 128n + 32i + 4g + (0..4) of every row: `ql` word 16n + 8(i % 2) + g (low
        // nibbles for i < 2, high ones above) and bits 2i, 2i + 1 of `qh` word 8n + g.
        for n in 0..2 {
            for i in 0..4 {
                for half in 0..2 {
                    let mut dot = [_mm512_setzero_si512(); R];
                    for g in 4 * half..4 * half + 4 {
                        if let Some(ahead) = ahead.filter(|_| R == 1) {
                            prefetch_line(ahead, 32 * n + 8 * i + g);
                        }
                        // SAFETY: word indices below 32 (`ql`) and 16 (`qh`); the rows are
                        // 64 bytes, aligned to 64 (the tile is).
                        let (low, high) = unsafe {
                            (
                                _mm512_load_si512(
                                    tile.ql[16 * n + 8 * (i % 2) + g].as_ptr().cast(),
                                ),
                                _mm512_load_si512(tile.qh[8 * n + g].as_ptr().cast()),
                            )
                        };
                        let low = match i {
                            0 | 1 => _mm512_and_si512(low, low4),
                            _ => _mm512_and_si512(_mm512_srli_epi16(low, 4), low4),
                        };
                        let high = match i {
                            0 => _mm512_slli_epi16(_mm512_and_si512(high, bits01), 4),
                            1 => _mm512_slli_epi16(_mm512_and_si512(high, bits23), 2),
                            2 => _mm512_and_si512(high, bits45),
                            _ => _mm512_and_si512(_mm512_srli_epi16(high, 2), bits45),
                        };
                        let q = _mm512_or_si512(low, high);
                        for r in 0..R {
                            // SAFETY: 128n + 32i + 4g + 4 <= 256, the length of `qs`.
                            let y = unsafe {
                                rows[r][b]
                                    .qs
                                    .as_ptr()
                                    .add(128 * n + 32 * i + 4 * g)
                                    .cast::<i32>()
                                    .read_unaligned()
                            };
                            dot[r] = _mm512_dpbusd_epi32(dot[r], q, _mm512_set1_epi32(y));
                        }
                    }
                    let j = 8 * n + 2 * i + half;
                    // SAFETY: a scale row is 16 bytes.
                    let scale = unsafe {
                        _mm512_cvtepi8_epi32(_mm_loadu_si128(tile.scales[j].as_ptr().cast()))
                    };
                    for r in 0..R {
                        sumi[r] = _mm512_add_epi32(sumi[r], _mm512_mullo_epi32(dot[r], scale));
                        let sum = _mm512_set1_epi32(i32::from(rows[r][b].bsums[j]));
                        offset[r] = _mm512_add_epi32(offset[r], _mm512_mullo_epi32(scale, sum));
                    }
                }
            }
        }
        // SAFETY: `d` is 16 half floats, 32 bytes.
        let d = unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(tile.d.as_ptr().cast())) };
        for r in 0..R {
            let total = _mm512_sub_epi32(sumi[r], _mm512_slli_epi32(offset[r], 5));
            acc[r] = _mm512_fmadd_ps(
                _mm512_mul_ps(d, _mm512_set1_ps(rows[r][b].d)),
                _mm512_cvtepi32_ps(total),
                acc[r],
            );
        }
    }
    for r in 0..R {
        // SAFETY: a row of `out` is 16 floats.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
    }
}
/// The first eight or last eight (`half` 0 or 1) of a tile row's sixteen bytes, each twice as
/// 16-bit values (unsigned, or signed with `signed`): 32-bit lane `r` holds `row[r]` in both
/// halves, so that one `vpmaddwd` multiplies a lane's two 16-bit sums by it and adds them.
#[target_feature(enable = "avx2,fma,f16c")]
fn pairs8(row: &[u8; ROWS], half: usize, signed: bool) -> __m256i {
    // SAFETY: 8 bytes from 8 * half <= 8, inside the 16.
    let bytes = unsafe { _mm_loadl_epi64(row.as_ptr().add(8 * half).cast()) };
    let twice = _mm_unpacklo_epi8(bytes, bytes);
    if signed {
        _mm256_cvtepi8_epi16(twice)
    } else {
        _mm256_cvtepu8_epi16(twice)
    }
}

/// The 8-lane half `half` of 16 half floats, as floats.
#[target_feature(enable = "avx2,fma,f16c")]
fn halves8(values: &[half::f16; ROWS], half: usize) -> __m256 {
    // SAFETY: 8 half floats (16 bytes) from 8 * half, inside the 16.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(values.as_ptr().add(8 * half).cast()) })
}

/// Four input values from `at`, in every 32-bit lane.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn broadcast4(at: *const i8) -> __m256i {
    // SAFETY: the caller passes four readable bytes.
    _mm256_set1_epi32(unsafe { at.cast::<i32>().read_unaligned() })
}

/// [`q4k_dots`] with 256-bit registers: each tile's rows 0-7, then 8-15. `vpmaddubsw` multiplies the
/// 4-bit values by the input bytes in 16-bit pairs (at most 2 · 15 · 128 = 3,840, so a
/// sub-block's eight steps add up in 16 bits without saturating), one `vpmaddwd` per
/// sub-block multiplies them by the sub-block's scale and makes them 32-bit (and one per
/// sub-block the input's sums by its minimum), as ggml's Q4_K dot product does: no 32-bit
/// multiplies.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; every input row has `tiles.len()` blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4k_dots_avx2<const R: usize>(
    tiles: &[Q4KTile],
    ahead: &[Q4KTile],
    rows: [&[BlockQ8K]; R],
    out: &mut [[f32; ROWS]; super::GROUP],
) {
    let low4 = _mm256_set1_epi8(0xF);
    // Both halves of a tile before the next, so that the memory stays in flight all through.
    let mut halves = [[_mm256_setzero_ps(); R]; 2];
    for (b, tile) in tiles.iter().enumerate() {
        // Prompts ask for the whole tile ahead at once, one row a line of it a step.
        let ahead = ahead.get(b);
        if let Some(ahead) = ahead.filter(|_| R > 1) {
            prefetch(ahead);
        }
        for (half, acc) in halves.iter_mut().enumerate() {
            let mut sumi = [_mm256_setzero_si256(); R];
            for c in 0..4 {
                let mut lo = [_mm256_setzero_si256(); R];
                let mut hi = [_mm256_setzero_si256(); R];
                for g in 0..8 {
                    if let Some(ahead) = ahead.filter(|_| R == 1) {
                        prefetch_line(ahead, 32 * half + 8 * c + g);
                    }
                    // SAFETY: 8 words from 8 * half, inside the row of 16.
                    let bits = unsafe {
                        _mm256_loadu_si256(tile.qs[8 * c + g].as_ptr().add(8 * half).cast())
                    };
                    let q_lo = _mm256_and_si256(bits, low4);
                    let q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
                    for r in 0..R {
                        let y = rows[r][b].qs.as_ptr();
                        // SAFETY: 64c + 32 + 4g + 4 <= 256, the length of `qs`.
                        let (y_lo, y_hi) = unsafe {
                            (
                                broadcast4(y.add(64 * c + 4 * g)),
                                broadcast4(y.add(64 * c + 32 + 4 * g)),
                            )
                        };
                        lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(q_lo, y_lo));
                        hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(q_hi, y_hi));
                    }
                }
                let scale_lo = pairs8(&tile.scales[2 * c], half, false);
                let scale_hi = pairs8(&tile.scales[2 * c + 1], half, false);
                for r in 0..R {
                    sumi[r] = _mm256_add_epi32(
                        sumi[r],
                        _mm256_add_epi32(
                            _mm256_madd_epi16(lo[r], scale_lo),
                            _mm256_madd_epi16(hi[r], scale_hi),
                        ),
                    );
                }
            }
            let (d, dmin) = (halves8(&tile.d, half), halves8(&tile.dmin, half));
            let min_pairs: [__m256i; 8] =
                std::array::from_fn(|j| pairs8(&tile.mins[j], half, false));
            for r in 0..R {
                let y = &rows[r][b];
                let mut mins = _mm256_setzero_si256();
                for (j, &min) in min_pairs.iter().enumerate() {
                    // The two input sums of sub-block j (16 values each), side by side.
                    // SAFETY: 2j + 2 <= 16, the length of `bsums`.
                    let sums =
                        unsafe { y.bsums.as_ptr().add(2 * j).cast::<i32>().read_unaligned() };
                    mins = _mm256_add_epi32(mins, _mm256_madd_epi16(min, _mm256_set1_epi32(sums)));
                }
                let yd = _mm256_set1_ps(y.d);
                acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                acc[r] =
                    _mm256_fnmadd_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(mins), acc[r]);
            }
        }
    }
    for (half, acc) in halves.iter().enumerate() {
        for r in 0..R {
            // SAFETY: 8 floats from 8 * half, inside the row of 16.
            unsafe { _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * half), acc[r]) };
        }
    }
}

/// [`q6k_dots`] with 256-bit registers: each tile's rows 0-7, then 8-15. The 6-bit values reach 63, so
/// each `vpmaddubsw` pair sum (at most 2 · 63 · 128) is widened at once, by a `vpmaddwd` that
/// also multiplies it by the sub-block's scale (as ggml's Q6_K dot product does).
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; every input row has `tiles.len()` blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q6k_dots_avx2<const R: usize>(
    tiles: &[Q6KTile],
    ahead: &[Q6KTile],
    rows: [&[BlockQ8K]; R],
    out: &mut [[f32; ROWS]; super::GROUP],
) {
    let low4 = _mm256_set1_epi8(0xF);
    let bits01 = _mm256_set1_epi8(0x03);
    let bits23 = _mm256_set1_epi8(0x0C);
    let bits45 = _mm256_set1_epi8(0x30);
    // Both halves of a tile before the next, so that the memory stays in flight all through.
    let mut halves = [[_mm256_setzero_ps(); R]; 2];
    for (b, tile) in tiles.iter().enumerate() {
        // Prompts ask for the whole tile ahead at once, one row a line of it a step.
        let ahead = ahead.get(b);
        if let Some(ahead) = ahead.filter(|_| R > 1) {
            prefetch(ahead);
        }
        for (half, acc) in halves.iter_mut().enumerate() {
            let mut sumi = [_mm256_setzero_si256(); R];
            let mut offset = [_mm256_setzero_si256(); R];
            for n in 0..2 {
                for i in 0..4 {
                    for part in 0..2 {
                        let j = 8 * n + 2 * i + part;
                        // The scales are signed bytes.
                        let scale = pairs8(
                            // SAFETY: i8 and u8 have the same layout.
                            unsafe { &*tile.scales[j].as_ptr().cast::<[u8; ROWS]>() },
                            half,
                            true,
                        );
                        for g in 4 * part..4 * part + 4 {
                            if let Some(ahead) = ahead.filter(|_| R == 1) {
                                prefetch_line(ahead, 64 * half + 32 * n + 8 * i + g);
                            }
                            // SAFETY: word indices below 32 (`ql`) and 16 (`qh`); 8 words
                            // from 8 * half, inside the rows of 16.
                            let (low, high) = unsafe {
                                (
                                    _mm256_loadu_si256(
                                        tile.ql[16 * n + 8 * (i % 2) + g]
                                            .as_ptr()
                                            .add(8 * half)
                                            .cast(),
                                    ),
                                    _mm256_loadu_si256(
                                        tile.qh[8 * n + g].as_ptr().add(8 * half).cast(),
                                    ),
                                )
                            };
                            let low = match i {
                                0 | 1 => _mm256_and_si256(low, low4),
                                _ => _mm256_and_si256(_mm256_srli_epi16(low, 4), low4),
                            };
                            let high = match i {
                                0 => _mm256_slli_epi16(_mm256_and_si256(high, bits01), 4),
                                1 => _mm256_slli_epi16(_mm256_and_si256(high, bits23), 2),
                                2 => _mm256_and_si256(high, bits45),
                                _ => _mm256_and_si256(_mm256_srli_epi16(high, 2), bits45),
                            };
                            let q = _mm256_or_si256(low, high);
                            for r in 0..R {
                                // SAFETY: 128n + 32i + 4g + 4 <= 256, the length of `qs`.
                                let y = unsafe {
                                    broadcast4(rows[r][b].qs.as_ptr().add(128 * n + 32 * i + 4 * g))
                                };
                                sumi[r] = _mm256_add_epi32(
                                    sumi[r],
                                    _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale),
                                );
                            }
                        }
                        for r in 0..R {
                            // The input's sum in the low 16 bits of each lane, zero above.
                            let sum = _mm256_set1_epi32(i32::from(rows[r][b].bsums[j] as u16));
                            offset[r] = _mm256_add_epi32(offset[r], _mm256_madd_epi16(scale, sum));
                        }
                    }
                }
            }
            let d = halves8(&tile.d, half);
            for r in 0..R {
                let total = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(offset[r], 5));
                acc[r] = _mm256_fmadd_ps(
                    _mm256_mul_ps(d, _mm256_set1_ps(rows[r][b].d)),
                    _mm256_cvtepi32_ps(total),
                    acc[r],
                );
            }
        }
    }
    for (half, acc) in halves.iter().enumerate() {
        for r in 0..R {
            // SAFETY: 8 floats from 8 * half, inside the row of 16.
            unsafe { _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * half), acc[r]) };
        }
    }
}
