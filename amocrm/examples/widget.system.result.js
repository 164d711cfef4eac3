{
    area: "ccard" ,
    amouser_id: "103586" ,
    amouser: "testuser@amocrm.ru" ,
    amohash: "d053abd66063225fa8b763afz6496da8"
}
