{
    login: "ZABRTEST" ,
    password: "test" ,
    maybe: "Y"
}
