//! Redis glob patterns (level 0), as `KEYS`, `SCAN MATCH` use them (`stringmatchlen`).
//!
//! `*` any run, `?` one byte, `[abc]`, `[^a-z]` classes (a range may be given high-low),
//! `\x` a literal `x`. A class left open at the end of the pattern ends there, as in Redis.

#[derive(Debug, PartialEq)]
enum Token {
    Star,
    Any,
    Byte(u8),
    Class { negated: bool, items: Vec<(u8, u8)> },
}

/// A compiled glob pattern.
#[derive(Debug)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    pub(crate) fn new(pattern: &[u8]) -> Glob {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < pattern.len() {
            match pattern[i] {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                b'?' => tokens.push(Token::Any),
                b'\\' if i + 1 < pattern.len() => {
                    i += 1;
                    tokens.push(Token::Byte(pattern[i]));
                }
                b'[' => {
                    i += 1;
                    let negated = pattern.get(i) == Some(&b'^');
                    if negated {
                        i += 1;
                    }
                    let mut items = Vec::new();
                    while i < pattern.len() && pattern[i] != b']' {
                        if pattern[i] == b'\\' && i + 1 < pattern.len() {
                            i += 1;
                            items.push((pattern[i], pattern[i]));
                        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' {
                            let (a, b) = (pattern[i], pattern[i + 2]);
                            items.push((a.min(b), a.max(b)));
                            i += 2;
                        } else {
                            items.push((pattern[i], pattern[i]));
                        }
                        i += 1;
                    }
                    tokens.push(Token::Class { negated, items });
                }
                b => tokens.push(Token::Byte(b)),
            }
            i += 1;
        }
        Glob { tokens }
    }

    /// True when the pattern is `*`, which matches everything.
    pub(crate) fn matches_all(&self) -> bool {
        self.tokens == [Token::Star]
    }

    fn one(token: &Token, b: u8) -> bool {
        match token {
            Token::Star => true,
            Token::Any => true,
            Token::Byte(x) => *x == b,
            Token::Class { negated, items } => {
                items.iter().any(|&(lo, hi)| lo <= b && b <= hi) != *negated
            }
        }
    }

    /// Matches with a single backtrack point per star: O(pattern × string), never exponential.
    pub(crate) fn matches(&self, s: &[u8]) -> bool {
        let t = &self.tokens;
        let (mut ti, mut si) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            if ti < t.len() && t[ti] == Token::Star {
                star = Some((ti, si));
                ti += 1;
            } else if ti < t.len() && Self::one(&t[ti], s[si]) {
                ti += 1;
                si += 1;
            } else if let Some((st, ss)) = star {
                ti = st + 1;
                si = ss + 1;
                star = Some((st, ss + 1));
            } else {
                return false;
            }
        }
        t[ti..].iter().all(|x| *x == Token::Star)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p.as_bytes()).matches(s.as_bytes())
    }

    #[test]
    fn redis_glob_rules() {
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:age"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("*[", "x"), "an open class at the end is an empty class");
        assert!(!m("abc", "abcd"));
        assert!(m("a**", "abc"));
        assert!(Glob::new(b"**").matches_all());
    }
}
