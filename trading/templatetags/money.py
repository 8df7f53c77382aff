"""`{% load money %}`: the one money and price format of every page (`$1,234.56`, `-$1,234.56`)."""

from django import template

from trading.money import format_money, format_price

register = template.Library()
register.filter("money", format_money)
register.filter("price", format_price)
