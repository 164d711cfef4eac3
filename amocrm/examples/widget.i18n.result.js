{
    firstWidgetText: "Кликни на кнопку, чтобы переслать данные на сторонний сервер:",
    textIntoTheButton: "Отправить данные",
    responseMessage: "Ответ сервера :",
    responseError: "Ошибка"
}
