//! The buffers of the dense heap (`runtime.rs`): zeroed, growable, and for large heaps
//! grown in place.
//!
//! A small buffer is a `Vec`, grown by allocating a larger zeroed one and copying. Past
//! [`MAP_FROM`] bytes the buffer moves once into an anonymous mapping that reserves address
//! space for [`RESERVE`] elements without committing memory (`MAP_NORESERVE`): growing it is
//! then only a longer length, since the kernel hands out zeroed pages as they are first
//! touched, so a heap that grows to millions of cells is never copied again, and its pages
//! can be transparent huge pages (`madvise(MADV_HUGEPAGE)` on Linux), a page fault per 2 MiB
//! instead of per 4 KiB. On the sieve benchmark (a million cells) the page faults and
//! copies of growing took about a third of the run. Where the mapping cannot be made (an
//! address-space limit), the buffer stays a `Vec`.

use std::ops::{Deref, DerefMut};

use memmap2::{MmapMut, MmapOptions};

/// Bytes from which a buffer lives in a mapping.
const MAP_FROM: usize = 1 << 20;

/// Elements a mapping reserves address space for (only touched pages take memory).
const RESERVE: usize = 1 << 32;

/// Element types whose all-zero bytes are the value 0 (fresh pages hold zeros).
///
/// # Safety
/// An implementor's all-zero bit pattern must be a valid value: `grow_to` hands out zeroed
/// memory (fresh pages, or a zeroed vector) as `T`s.
pub(super) unsafe trait ZeroBits: Copy + Default + std::fmt::Debug {}
// SAFETY: all-zero bytes are the integer 0.
unsafe impl ZeroBits for i64 {}
// SAFETY: as for `i64`.
unsafe impl ZeroBits for u8 {}

/// A buffer of `len` elements, zero where never written.
#[derive(Debug)]
pub(super) struct Zeroed<T: ZeroBits> {
    /// The first element and the length in use, of `vec` or of the mapping (read without a
    /// branch on which: the heap reads its cells on every host call).
    ptr: *mut T,
    len: usize,
    vec: Vec<T>,
    /// The mapping once the buffer lives in one (then `vec` is empty).
    mapped: Option<MmapMut>,
}

// SAFETY: `Zeroed` owns its buffer (the vector or the mapping `ptr` points into) as a
// `Vec<T>` would; nothing else refers to it.
unsafe impl<T: ZeroBits + Send> Send for Zeroed<T> {}

impl<T: ZeroBits> Default for Zeroed<T> {
    fn default() -> Self {
        let mut vec = Vec::new();
        Zeroed { ptr: vec.as_mut_ptr(), len: 0, vec, mapped: None }
    }
}

impl<T: ZeroBits> Zeroed<T> {
    /// Grows the buffer to `new_len` elements (no change if it is not longer), the new ones 0.
    pub(super) fn grow_to(&mut self, new_len: usize) {
        let len = self.len;
        if new_len <= len {
            return;
        }
        if let Some(map) = &self.mapped
            && new_len <= map.len() / std::mem::size_of::<T>()
        {
            self.len = new_len;
            return;
        }
        let size = std::mem::size_of::<T>();
        if new_len.saturating_mul(size) >= MAP_FROM
            && let Some(mut map) = Self::map(new_len.max(RESERVE))
        {
            let ptr = map.as_mut_ptr().cast::<T>();
            // SAFETY: the mapping is page-aligned, at least `new_len * size` bytes long and
            // zeroed, and `len <= new_len`; zero bytes are a valid `T`
            // (`ZeroBits`); the old buffer is another allocation.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr, ptr, len) };
            self.vec = Vec::new();
            self.mapped = Some(map);
            self.ptr = ptr;
            self.len = new_len;
            return;
        }
        let mut vec: Vec<T> = Vec::with_capacity(new_len);
        // SAFETY: the capacity is `new_len`, all of which is zeroed before the length covers
        // it, and zero bytes are a valid `T` (`ZeroBits`): one `memset`, where filling with
        // `T::default()` wrote one element at a time.
        unsafe {
            std::ptr::write_bytes(vec.as_mut_ptr(), 0, new_len);
            vec.set_len(new_len);
        }
        vec[..len].copy_from_slice(self);
        self.vec = vec;
        self.mapped = None;
        self.ptr = self.vec.as_mut_ptr();
        self.len = new_len;
    }

    /// A fresh mapping for `capacity` elements, or `None` where the system refuses it.
    fn map(capacity: usize) -> Option<MmapMut> {
        let bytes = capacity.checked_mul(std::mem::size_of::<T>())?;
        let map = MmapOptions::new().len(bytes).no_reserve_swap().map_anon().ok()?;
        #[cfg(target_os = "linux")]
        {
            // Only advice: a kernel without transparent huge pages keeps small ones.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        Some(map)
    }
}

impl<T: ZeroBits> Deref for Zeroed<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` is the start of the vector or the mapping this owns, `len` elements
        // of it are in use (zeroed or written through this type), and it is aligned (a
        // vector's buffer, a page) and non-null (a vector's, dangling only when empty).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: ZeroBits> DerefMut for Zeroed<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_a_vec_into_a_mapping_keeping_every_element() {
        let mut z: Zeroed<i64> = Zeroed::default();
        assert!(z.is_empty());
        z.grow_to(1024);
        z[1023] = 7;
        z[0] = -1;
        assert!(z.mapped.is_none(), "small buffers are vectors");
        // Past MAP_FROM bytes: into a mapping, copied once.
        z.grow_to(MAP_FROM / 8 + 5);
        assert_eq!((z[0], z[1023], z[1024]), (-1, 7, 0));
        let mapped = z.mapped.is_some();
        let ptr = z.as_ptr();
        z[MAP_FROM / 8 + 4] = 9;
        // Growing a mapping moves nothing; the new elements are 0.
        z.grow_to(4 * MAP_FROM);
        if mapped {
            assert_eq!(z.as_ptr(), ptr, "a mapping grows in place");
        }
        assert_eq!(z.len(), 4 * MAP_FROM);
        assert_eq!((z[0], z[1023], z[MAP_FROM / 8 + 4], z[4 * MAP_FROM - 1]), (-1, 7, 9, 0));
        // Shorter is no change.
        z.grow_to(3);
        assert_eq!(z.len(), 4 * MAP_FROM);
        let mut w: Zeroed<u8> = Zeroed::default();
        w.grow_to(2 * MAP_FROM);
        w[2 * MAP_FROM - 1] = 2;
        assert_eq!(w.iter().map(|&b| b as usize).sum::<usize>(), 2);
    }
}
