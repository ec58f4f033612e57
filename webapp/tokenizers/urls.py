from django.urls import path

from . import views

app_name = "tokenizers"
urlpatterns = [
    path("", views.tokenizer_list, name="list"),
    path("tokenize", views.tokenize, name="tokenize"),
    path("replay", views.replay, name="replay"),
    path("train", views.train, name="train"),
]
