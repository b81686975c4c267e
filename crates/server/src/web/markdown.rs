//! Markdown as people write it in bodies and comments, rendered safely: CommonMark with tables and
//! strikethrough, HTML written in the text shown as text (never passed through), and links only to
//! `http`, `https` and `mailto` addresses (anything else, such as `javascript:`, is dropped).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

fn safe_link(dest: &str) -> bool {
    let d = dest.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"].iter().any(|s| d.starts_with(s)) || !d.contains(':')
}

/// `text` as HTML safe to put in a page.
pub fn to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(text, options).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_link(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        Event::Start(Tag::Image { dest_url, .. }) => Event::Text(dest_url),
        Event::End(pulldown_cmark::TagEnd::Image) => Event::Text(CowStr::Borrowed("")),
        e => e,
    });
    let mut out = String::with_capacity(text.len() * 5 / 4);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_is_rendered_and_html_in_it_is_text() {
        assert_eq!(to_html("Sarah wants **SSO**"), "<p>Sarah wants <strong>SSO</strong></p>\n");
        let hostile = to_html("<script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!hostile.contains("<script") && !hostile.contains("<img"), "{hostile}");
        assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
        let link = to_html("[x](javascript:alert(1)) [y](https://acme.com)");
        assert!(!link.contains("javascript"), "{link}");
        assert!(link.contains("href=\"https://acme.com\""), "{link}");
        assert!(!to_html("![a](https://evil/x.png)").contains("<img"), "no images fetched from elsewhere");
    }

    #[test]
    fn deep_nesting_within_the_body_limit_renders() {
        let n = keepwell_core::limits::BODY;
        for hostile in [">".repeat(n), "[".repeat(n), "* ".repeat(n / 2), "`".repeat(n), "<a>".repeat(n / 3)] {
            assert!(!to_html(&hostile).contains("<a>"), "rendered, and no raw HTML");
        }
    }
}
