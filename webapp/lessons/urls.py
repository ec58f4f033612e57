from django.urls import path

from . import views

app_name = "lessons"

urlpatterns = [
    path("", views.course, name="course"),
    path("glossary/", views.glossary_page, name="glossary"),
    path("texts/forum-scene/", views.training_excerpt, name="training_excerpt"),
    path("<slug:slug>/", views.lesson, name="lesson"),
]
