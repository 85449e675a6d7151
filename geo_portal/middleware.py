"""Language choice: Vietnamese unless the person chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, so a phone set to
English would get English pages in a Vietnamese public service. Pages here use the
language chosen with the switcher (the language cookie) and otherwise Vietnamese; API
clients, which have no switcher, may still ask for English with Accept-Language (paths
in settings.ACCEPT_LANGUAGE_PATHS).
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChosenLanguageMiddleware(LocaleMiddleware):
    def process_request(self, request):
        supported = dict(settings.LANGUAGES)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen not in supported:
            chosen = None
            if request.path.startswith(tuple(settings.ACCEPT_LANGUAGE_PATHS)):
                chosen = translation.get_language_from_request(request)
        translation.activate(chosen or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
