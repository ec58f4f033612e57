"""HTTP routes; websocket routes live in each app's routing.py."""

from django.contrib import admin
from django.urls import include, path

from webapp.pages import views as pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("lessons/", include("webapp.lessons.urls")),
    path("playground/", include("webapp.playground.urls")),
    path("api/tokenizers/", include("webapp.tokenizers.urls")),
    path("admin/", admin.site.urls),
]
