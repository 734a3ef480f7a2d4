"""The languages the portal names: who calls them what, which way they are written, and the
language-assistance taglines that Section 1557 asks a practice to publish in them.

A language is a BCP 47 tag ("es", "pt-BR", "zh-Hant"). Its names and direction come from the
Unicode CLDR data that Babel ships, so any tag a practice lists has both: the English name staff
read ("Portuguese (Brazil)") and the language's own name, which a patient's list shows
("Português"). Pure functions, no Flask inside.

The default lists describe Massachusetts. ``ASSISTANCE_LANGUAGES`` are the fifteen most common
languages of people with limited English proficiency there, in the order of HHS OCR's "Top 15
Non-English Languages by State" list published for Section 1557 (September 2016, from the
2009-2013 American Community Survey): Spanish, Portuguese, Chinese, Haitian Creole, Vietnamese,
Russian, Arabic, Mon-Khmer (Cambodian), French, Italian, Korean, Greek, Polish, Hindi, Gujarati.
The list itself (hhs.gov, resources-for-covered-entities-top-15-languages-list.pdf) could not be
read while this was written; the order above is the one Massachusetts insurers reproduce from it
in their 1557 notices (e.g. Blue Cross Blue Shield of Massachusetts), so a practice should check
it against the current HHS list, and can replace it with ``assistance_languages``.

The taglines are drafts after HHS's sample taglines, written for this portal: 45 CFR 92.201
requires a qualified human translator to review machine-assisted translation of critical text,
so a practice replaces any of them with the text its own translator approved
(``[assistance_taglines]`` in practice.toml).
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

ENGLISH = "en"
# The last answer to the preferred-language question (a language not listed): not a tag.
OTHER = "other"

# Other languages common among the practice's patients, for the preferred-language question:
# the rest of Massachusetts' fifteen; Cantonese beside Chinese, as the census counts both as
# "Chinese" though each needs its own interpreter; Cape Verdean Creole, which the census counts
# with Portuguese though a Portuguese interpreter does not serve its speakers; and American Sign
# Language, whose interpreter a Deaf patient is owed under the ADA as much as a spoken one.
OTHER_LANGUAGES = [
    *("zh", "yue", "ht", "vi", "kea", "ru", "ar", "km"),
    *("fr", "it", "ko", "el", "pl", "hi", "gu", "ase"),
]
# Sign languages, which CLDR has no locale for: the tag, its name in English, and the written
# language that name is in (a sign language has no written form of its own; its users in the
# United States read English), so a screen reader says the option in that language's voice.
SIGN_LANGUAGES: dict[str, tuple[str, str]] = {"ase": ("American Sign Language", ENGLISH)}
ASSISTANCE_LANGUAGES = [
    "es",
    "pt",
    "zh-Hant",
    "ht",
    "vi",
    "ru",
    "ar",
    "km",
    "fr",
    "it",
    "ko",
    "el",
    "pl",
    "hi",
    "gu",
]

# "{phone}" becomes the practice's phone number, as a link. Each says: if you speak this
# language, free language assistance is available; free auxiliary aids and services too (such as
# information in accessible formats); call the number (TTY 711) or ask at the front desk.
TAGLINES: dict[str, str] = {
    "es": (
        "ATENCIÓN: Si habla español, tiene a su disposición servicios gratuitos de asistencia "
        "lingüística. También ofrecemos gratis ayudas y servicios auxiliares, como información "
        "en formatos accesibles. Llame al {phone} (TTY: 711) o pregunte en la recepción."
    ),
    "pt": (
        "ATENÇÃO: Se você fala português, há serviços gratuitos de assistência linguística à sua "
        "disposição. Também oferecemos gratuitamente recursos e serviços auxiliares, como "
        "informações em formatos acessíveis. Ligue para {phone} (TTY: 711) ou pergunte na "
        "recepção."
    ),
    "zh-Hant": (
        "注意:如果您說中文,您可以免費獲得語言協助服務。我們也免費提供輔助工具與服務,"
        "例如以無障礙格式提供的資訊。請致電 {phone}(TTY:711),或向櫃檯詢問。"
    ),
    "ht": (
        "ATANSYON: Si w pale kreyòl ayisyen, gen sèvis èd nan lang ki disponib gratis pou ou. "
        "Gen èd ak sèvis siplemantè gratis tou, tankou enfòmasyon nan fòma ki aksesib. Rele "
        "{phone} (TTY: 711) oswa mande nan resepsyon an."
    ),
    "vi": (
        "CHÚ Ý: Nếu bạn nói tiếng Việt, chúng tôi có dịch vụ hỗ trợ ngôn ngữ miễn phí dành cho "
        "bạn. Chúng tôi cũng cung cấp miễn phí các phương tiện và dịch vụ hỗ trợ, chẳng hạn như "
        "thông tin ở các định dạng dễ tiếp cận. Hãy gọi số {phone} (TTY: 711) hoặc hỏi tại quầy "
        "tiếp tân."
    ),
    "ru": (
        "ВНИМАНИЕ: Если вы говорите по-русски, вам доступны бесплатные услуги языковой "
        "поддержки. Также бесплатно предоставляются вспомогательные средства и услуги, например "
        "информация в доступных форматах. Звоните по номеру {phone} (телетайп: 711) или "
        "обратитесь в регистратуру."
    ),
    "ar": (
        "تنبيه: إذا كنت تتحدث العربية، فإن خدمات المساعدة اللغوية متاحة لك مجانًا. كما تتوفر "
        "مجانًا وسائل وخدمات مساعدة، مثل المعلومات بتنسيقات يسهل الوصول إليها. اتصل بالرقم "
        "{phone} (الهاتف النصي للصم وضعاف السمع: 711) أو اسأل في مكتب الاستقبال."
    ),
    "km": (
        "ប្រយ័ត្ន៖ ប្រសិនបើអ្នកនិយាយភាសាខ្មែរ សេវាជំនួយផ្នែកភាសាដោយមិនគិតថ្លៃ "
        "គឺមានសម្រាប់អ្នក។ យើងក៏ផ្តល់ជូនដោយឥតគិតថ្លៃនូវជំនួយ និងសេវាបន្ថែម "
        "ដូចជាព័ត៌មានក្នុងទម្រង់ដែលងាយស្រួលប្រើ។ សូមទូរស័ព្ទទៅលេខ {phone} (TTY: 711) "
        "ឬសួរនៅតុទទួលភ្ញៀវ។"
    ),
    "fr": (
        "ATTENTION\u00a0: Si vous parlez français, des services d'aide linguistique vous sont "
        "proposés gratuitement. Des aides et services auxiliaires, comme des informations dans "
        "des formats accessibles, sont également offerts gratuitement. Appelez le {phone} "
        "(ATS\u00a0: 711) ou renseignez-vous à l'accueil."
    ),
    "it": (
        "ATTENZIONE: Se parla italiano, sono a Sua disposizione servizi gratuiti di assistenza "
        "linguistica. Sono disponibili gratuitamente anche ausili e servizi di supporto, come "
        "informazioni in formati accessibili. Chiami il numero {phone} (TTY: 711) o si rivolga "
        "alla reception."
    ),
    "ko": (
        "주의: 한국어를 사용하시는 경우, 언어 지원 서비스를 무료로 이용하실 수 있습니다. "
        "이용하기 쉬운 형식의 정보 등 보조 기구 및 서비스도 무료로 제공됩니다. {phone} "
        "(TTY: 711) 번으로 전화하시거나 안내 데스크에 문의해 주십시오."
    ),
    "el": (
        "ΠΡΟΣΟΧΗ: Αν μιλάτε ελληνικά, στη διάθεσή σας βρίσκονται υπηρεσίες γλωσσικής "
        "υποστήριξης, οι οποίες παρέχονται δωρεάν. Διατίθενται επίσης δωρεάν βοηθήματα και "
        "υπηρεσίες υποστήριξης, όπως πληροφορίες σε προσβάσιμες μορφές. Καλέστε {phone} "
        "(TTY: 711) ή ρωτήστε στη ρεσεψιόν."
    ),
    "pl": (
        "UWAGA: Jeżeli mówisz po polsku, możesz skorzystać z bezpłatnej pomocy językowej. "
        "Bezpłatnie dostępne są również pomoce i usługi dodatkowe, takie jak informacje w "
        "dostępnych formatach. Zadzwoń pod numer {phone} (TTY: 711) lub zapytaj w recepcji."
    ),
    "hi": (
        "ध्यान दें: यदि आप हिंदी बोलते हैं, तो आपके लिए मुफ्त में भाषा सहायता सेवाएं उपलब्ध हैं। "
        "सुलभ प्रारूपों में जानकारी जैसी सहायक सामग्री और सेवाएं भी मुफ्त में उपलब्ध हैं। "
        "{phone} (TTY: 711) पर कॉल करें या रिसेप्शन पर पूछें।"
    ),
    "gu": (
        "સૂચના: જો તમે ગુજરાતી બોલતા હો, તો નિ:શુલ્ક ભાષા સહાય સેવાઓ તમારા માટે ઉપલબ્ધ છે. "
        "સુલભ ફોર્મેટમાં માહિતી જેવી સહાયક સામગ્રી અને સેવાઓ પણ નિ:શુલ્ક ઉપલબ્ધ છે. "
        "{phone} (TTY: 711) પર ફોન કરો અથવા રિસેપ્શન પર પૂછો."
    ),
}

# The short form for the end of an email: "Free help in your language: call {phone} (TTY: 711)."
SHORT_TAGLINES: dict[str, str] = {
    "es": "Ayuda gratuita en su idioma: llame al {phone} (TTY: 711).",
    "pt": "Ajuda gratuita no seu idioma: ligue para {phone} (TTY: 711).",
    "zh-Hant": "免費提供您所用語言的協助:請致電 {phone}(TTY:711)。",
    "ht": "Èd gratis nan lang ou: rele {phone} (TTY: 711).",
    "vi": "Hỗ trợ miễn phí bằng ngôn ngữ của bạn: hãy gọi {phone} (TTY: 711).",
    "ru": "Бесплатная помощь на вашем языке: звоните {phone} (телетайп: 711).",
    "ar": "مساعدة مجانية بلغتك: اتصل بالرقم {phone} (الهاتف النصي: 711).",
    "km": "ជំនួយឥតគិតថ្លៃជាភាសារបស់អ្នក៖ សូមទូរស័ព្ទទៅលេខ {phone} (TTY: 711)។",
    "fr": "Aide gratuite dans votre langue\u00a0: appelez le {phone} (ATS\u00a0: 711).",
    "it": "Assistenza gratuita nella Sua lingua: chiami il numero {phone} (TTY: 711).",
    "ko": "귀하의 언어로 무료 지원: {phone} (TTY: 711) 번으로 전화하십시오.",
    "el": "Δωρεάν βοήθεια στη γλώσσα σας: καλέστε {phone} (TTY: 711).",
    "pl": "Bezpłatna pomoc w Twoim języku: zadzwoń pod numer {phone} (TTY: 711).",
    "hi": "आपकी भाषा में मुफ्त सहायता: {phone} (TTY: 711) पर कॉल करें।",
    "gu": "તમારી ભાષામાં નિ:શુલ્ક સહાય: {phone} (TTY: 711) પર ફોન કરો.",
}


# Parsing a tag reads CLDR data: each tag once per process (an export names one per row).
@lru_cache(maxsize=512)
def cldr(tag: str) -> Locale | None:
    """The CLDR locale of a language tag, or None when CLDR does not know it."""
    try:
        return Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def is_known(tag: str) -> bool:
    """True for a language tag whose names and direction CLDR knows, or a sign language's."""
    return tag in SIGN_LANGUAGES or cldr(tag) is not None


def written_in(tag: str) -> str:
    """The language a language's own name is written in: itself, or a sign language's English."""
    sign = SIGN_LANGUAGES.get(tag)
    return sign[1] if sign else tag


@lru_cache(maxsize=512)
def english_name(tag: str) -> str:
    """The language's name for staff, in English: "Portuguese (Brazil)"; unknown tags as given."""
    if tag in SIGN_LANGUAGES:
        return SIGN_LANGUAGES[tag][0]
    locale = cldr(tag)
    name = locale.get_display_name(ENGLISH) if locale else None
    return name or tag


@lru_cache(maxsize=512)
def own_name(tag: str, region: bool = True) -> str:
    """The language's name in itself, capitalised as a list item: "Español", "Português".

    ``region=False`` leaves out the country ("Português" for pt-BR), for a list where only one
    form of the language appears. Kept, as CLDR's names do not change: every POST of a form
    builds its preferred-language options (19 names, a thirtieth of the POST).
    """
    if tag in SIGN_LANGUAGES:
        return SIGN_LANGUAGES[tag][0]
    locale = cldr(tag)
    if locale is None:
        return tag
    if not region and locale.territory:
        locale = Locale(locale.language, script=locale.script)
    name = locale.get_display_name(locale) or tag
    return name[:1].upper() + name[1:]


def is_rtl(tag: str) -> bool:
    """True for a language written right to left (Arabic, Hebrew, Persian, Urdu...)."""
    locale = cldr(tag)
    return bool(locale and locale.character_order == "right-to-left")


def best_match(tag: str, offered: list[str]) -> str | None:
    """The offered language for a page's language: the same tag, else the same base language."""
    lowered = {o.lower(): o for o in offered}
    if tag.lower() in lowered:
        return lowered[tag.lower()]
    base = tag.split("-")[0].lower()
    return next((o for o in offered if o.split("-")[0].lower() == base), None)
