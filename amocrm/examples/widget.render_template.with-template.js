/*Здесь в качестве параметров передается шаблон и данные для шаблона.*/
var render_data = '<div class="nw_form">' +
    '<div id="w_logo">' +
    '<img src="/widgets/\{\{w_code\}\}/images/logo.png" id="firstwidget_image"></img>' +
    '</div>' +
    '<div id="js-sub-lists-container">' +
    '</div>' +
    '<div id="js-sub-subs-container">' +
    '</div>' +
    '<div class="nw-form-button">\{\{b_name\}\}</div></div>' +
    '<div class="already-subs"></div>';

self.render_template(
    {
        caption: {
            class_name: 'new_widget'
        },
        body: '',
        render: render_data
    },
    {
        name: "widget_name",
        w_code: self.get_settings().widget_code,
        b_name: "BUTTON" // в данном случае лучше передать ссылку на lang через self.i18n()
    }
);
