//! Interning edge-type strings: a handful of distinct values over millions
//! of rows, matched against the last one seen first.

use crate::error::{CoreError, Result};

/// Maps strings to dense `u16` codes in order of first appearance.
#[derive(Default)]
pub struct Interner {
    names: Vec<String>,
    last: usize,
}

impl Interner {
    pub fn new() -> Self {
        Interner::default()
    }

    /// The code of `t`, adding it when new.
    ///
    /// # Errors
    /// More than 65,535 distinct strings.
    pub fn code(&mut self, t: &str) -> Result<u16> {
        if self.names.get(self.last).is_some_and(|x| x == t) {
            return Ok(self.last as u16);
        }
        let i = match self.find(t) {
            Some(i) => i as usize,
            None => {
                if self.names.len() >= u16::MAX as usize {
                    return Err(CoreError::InvalidOption("too many edge types (max 65535)".into()));
                }
                self.names.push(t.to_string());
                self.names.len() - 1
            }
        };
        self.last = i;
        Ok(i as u16)
    }

    /// The code of `t` if it was seen.
    pub fn find(&self, t: &str) -> Option<u16> {
        self.names.iter().position(|x| x == t).map(|i| i as u16)
    }

    /// The strings, by code.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn into_names(self) -> Vec<String> {
        self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_order_of_first_appearance() {
        let mut i = Interner::new();
        assert_eq!(i.code("a").ok(), Some(0));
        assert_eq!(i.code("b").ok(), Some(1));
        assert_eq!(i.code("a").ok(), Some(0));
        assert_eq!(i.find("b"), Some(1));
        assert_eq!(i.find("c"), None);
        assert_eq!(i.into_names(), vec!["a".to_string(), "b".to_string()]);
    }
}
