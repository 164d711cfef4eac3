var popup;

auth();

// 1. Открывает окно предоставления доступов
function auth() {
  popup = window.open('https://www.amocrm.ru/oauth?client_id=XXX&state=XXX&mode=post_message', 'Предоставить доступ', 'scrollbars, status, resizable, width=750, height=580');
}

// 2. Регистрируем обработчика сообщений из popup окна
window.addEventListener('message', updateAuthInfo);

// 3. Функция обработчик, зарегистрированная выше
function updateAuthInfo(e) {
  if (e.data.error !== undefined) {
    console.log('Ошибка - ' + e.data.error)
  } else {
    console.log('Авторизация прошла')
  }

  // 4. Закрываем модальное окно
  popup.close();
}
