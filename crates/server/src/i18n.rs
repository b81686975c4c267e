//! Translations with Fluent: one `.ftl` file per language, embedded. English and Russian are
//! complete (a test checks every key of one exists in the other and every key a template uses).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::collections::HashMap;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The first supported language of an `Accept-Language` header, in the client's order of
    /// preference.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut prefs: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok())).unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0));
        prefs.first().map(|(_, l)| *l)
    }
}

pub const SOURCES: [(Lang, &str); 2] =
    [(Lang::En, include_str!("i18n/en.ftl")), (Lang::Ru, include_str!("i18n/ru.ftl"))];

pub struct I18n {
    bundles: HashMap<Lang, FluentBundle<FluentResource>>,
}

impl I18n {
    pub fn load() -> anyhow::Result<I18n> {
        let mut bundles = HashMap::new();
        for (lang, src) in SOURCES {
            let res = FluentResource::try_new(src.to_owned())
                .map_err(|(_, errs)| anyhow::anyhow!("{}.ftl does not parse: {errs:?}", lang.code()))?;
            let id: unic_langid::LanguageIdentifier = lang.code().parse()?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            bundle.set_use_isolating(false);
            bundle
                .add_resource(res)
                .map_err(|errs| anyhow::anyhow!("{}.ftl has duplicate keys: {errs:?}", lang.code()))?;
            bundles.insert(lang, bundle);
        }
        Ok(I18n { bundles })
    }

    /// The message `key` in `lang`, with arguments; the key itself when missing (tests forbid that).
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let Some(bundle) = self.bundles.get(&lang) else { return key.to_owned() };
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_owned();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&fargs), &mut errors).into_owned()
    }

    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.bundles.get(&lang).is_some_and(|b| b.has_message(key))
    }
}

/// The message keys an `.ftl` source defines.
pub fn keys(src: &str) -> Vec<String> {
    src.lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_every_key() {
        let en = keys(SOURCES[0].1);
        let ru = keys(SOURCES[1].1);
        let missing_ru: Vec<_> = en.iter().filter(|k| !ru.contains(k)).collect();
        let missing_en: Vec<_> = ru.iter().filter(|k| !en.contains(k)).collect();
        assert!(missing_ru.is_empty(), "missing in ru.ftl: {missing_ru:?}");
        assert!(missing_en.is_empty(), "missing in en.ftl: {missing_en:?}");
        assert!(en.len() > 50);
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept_language("de-DE,en;q=0.5,ru;q=0.7"), Some(Lang::Ru));
        assert_eq!(Lang::from_accept_language("de"), None);
    }

    #[test]
    fn messages_take_arguments() {
        let i = I18n::load().unwrap();
        assert_eq!(i.text(Lang::En, "accounts-count", &[("count", 3.into())]), "3 accounts");
        assert_eq!(i.text(Lang::Ru, "accounts-count", &[("count", 3.into())]), "3 аккаунта");
        assert_eq!(i.text(Lang::Ru, "accounts-count", &[("count", 5.into())]), "5 аккаунтов");
    }
}
