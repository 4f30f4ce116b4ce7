//! Page access for one data file: bounds and file-id checks, a small cache
//! (LOB fragments of neighbouring rows share text-mix pages) and page-chain
//! walks that stop on cycles.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kairos_parsers::{Error, Location, Result, Source};

use crate::page::{Page, PageId};

/// File id of the primary data file; secondary files (NDF) are separate
/// sources and not joined yet.
pub const PRIMARY_FILE: u16 = 1;
/// Pages kept in the cache before it is emptied.
const CACHE_PAGES: usize = 256;

/// The pages of one data file.
#[derive(Debug)]
pub struct Pages<S> {
    src: S,
    cache: Mutex<HashMap<u32, Arc<Page>>>,
}

impl<S: Source> Pages<S> {
    /// Wraps `src`.
    pub fn new(src: S) -> Self {
        Pages {
            src,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// Name of the source for error messages.
    pub fn name(&self) -> &str {
        self.src.name()
    }

    /// Number of whole pages in the file.
    pub fn page_count(&self) -> u64 {
        self.src.len() / crate::page::PAGE_SIZE as u64
    }

    /// Reads page `id` (through the cache).
    pub fn get(&self, id: PageId) -> Result<Arc<Page>> {
        if id.file != PRIMARY_FILE {
            return Err(Error::Unsupported {
                source_name: self.name().to_owned(),
                feature: format!(
                    "page {id} lives in secondary data file {} (multi-file databases)",
                    id.file
                ),
            });
        }
        if let Some(p) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&id.page).cloned())
        {
            return Ok(p);
        }
        let page = Arc::new(Page::read(&self.src, id.page)?);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_PAGES {
                c.clear();
            }
            c.insert(id.page, Arc::clone(&page));
        }
        Ok(page)
    }

    /// Follows `m_nextPage` from `first`. Stops at 0:0, at a page seen
    /// before (a damaged chain must not loop) and after the first error,
    /// which is yielded.
    pub fn chain(&self, first: PageId) -> Chain<'_, S> {
        Chain {
            pages: self,
            next: (!first.is_null()).then_some(first),
            seen: HashSet::new(),
        }
    }

    /// A `Corrupt` error at page `page`.
    pub fn corrupt(&self, page: u32, field: &str, detail: impl Into<String>) -> Error {
        Error::corrupt(self.name(), Location::page(u64::from(page)), field, detail)
    }
}

/// Iterator over a page chain; see [`Pages::chain`].
#[derive(Debug)]
pub struct Chain<'a, S> {
    pages: &'a Pages<S>,
    next: Option<PageId>,
    seen: HashSet<PageId>,
}

impl<S: Source> Iterator for Chain<'_, S> {
    type Item = Result<Arc<Page>>;

    fn next(&mut self) -> Option<Self::Item> {
        let id = self.next.take()?;
        if !self.seen.insert(id) {
            return Some(Err(self.pages.corrupt(
                id.page,
                "m_nextPage",
                "the page chain loops back to this page",
            )));
        }
        match self.pages.get(id) {
            Ok(p) => {
                let next = p.header().next;
                self.next = (!next.is_null()).then_some(next);
                Some(Ok(p))
            }
            Err(e) => Some(Err(e)),
        }
    }
}
