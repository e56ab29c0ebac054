// Spanish and English: the texts live in i18n/es.json and i18n/en.json (same keys); the page
// asks for them by key. Static elements carry data-i18n (text), data-i18n-title (title and
// aria-label), data-i18n-tip (a tooltip) or data-i18n-placeholder.

export const LANGUAGES = ["es", "en"];
const dictionaries = {};
let current = "en";

/** Spanish when the browser's languages put Spanish before English, else English. */
export function preferredLanguage(languages = navigator.languages ?? [navigator.language]) {
  for (const tag of languages) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

/** Fetch both dictionaries once, so that switching language is immediate. */
export async function loadDictionaries() {
  await Promise.all(
    LANGUAGES.map(async (lang) => {
      const response = await fetch(`i18n/${lang}.json`);
      dictionaries[lang] = await response.json();
    }),
  );
}

/** Speak `lang` from now on (and say so in <html lang>); returns the language used. */
export function useLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "en";
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

/** The text for `key`, with {name} placeholders filled from `params`; the key if missing. */
export function t(key, params = {}) {
  const text = dictionaries[current]?.[key] ?? dictionaries.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-title]")) {
    const text = t(element.dataset.i18nTitle);
    element.title = text;
    element.setAttribute("aria-label", text);
  }
  for (const element of root.querySelectorAll("[data-i18n-tip]")) {
    element.dataset.tip = t(element.dataset.i18nTip);
    element.setAttribute("aria-label", element.dataset.tip);
  }
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
  document.title = t("app.title");
}
