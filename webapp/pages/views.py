"""The home page: what Glassbox is, and where to start."""

from django.shortcuts import render

from webapp.catalog.models import LanguageModel


def home(request):
    return render(request, "pages/home.html", {"default_model": LanguageModel.objects.default()})
