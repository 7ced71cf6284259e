"""Synthetic dishonest-debtor list entries at national scale (the 8.6 M of the 2023 list).

Pure: no I/O, no clock; imports the domain layer and the standard library only. Deterministic:
entry ``i`` of seed ``s`` is the same on every run and machine, whatever ``start``/``count``
window produced it (the stream is reseeded per block of ``BLOCK`` entries).

What is real: province and county codes (GB/T 2260, as python-stdnum's table has them, each
used in a resident ID only for birth years in which it existed), court designations built
from them (苏0583 is 昆山市人民法院), the check digits of resident IDs (GB 11643, ISO 7064
MOD 11-2), of organisation codes (GB 11714) and of unified social credit codes (GB 32100), the
listing periods of the SPC provisions (art. 2) and the official wording of the six grounds.
What is invented: every person, company, amount and case number. The shares of grounds,
kinds and provinces are plausible, not official statistics.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from courtbus.domain import blacklist as bl
from courtbus.domain.calendar import CHINA
from courtbus.domain.courts import designation_from_court_id
from courtbus.domain.regions import BY_CODE
from courtbus.errors import ValidationError

BLOCK = 4096
"""Entries per reseeded block: entry i depends on (seed, i // BLOCK) and its place only."""

AS_OF = datetime(2023, 12, 31, 23, 59, 59, tzinfo=CHINA)
"""The day the generated list is a snapshot of (the 2023 national list): every generated
entry is ACTIVE then (listed before it, its period not yet over)."""

NATIONAL_LIST_2023 = 8_600_000
"""Entries on the national list in 2023, the scale ``courtbus blacklist generate`` aims at."""

# -- tables ------------------------------------------------------------------------------------

# Resident-ID address codes per province: "code:first-last" birth years in which python-stdnum's
# GB/T 2260 table (cn/loc.dat) has the code (empty: open, up to at least 2010). An ID carries
# the code of its first registration, so a code that no longer exists is still realistic.
_ID_REGIONS: dict[str, str] = {
    "11": "110102:- 110103:- 110104:- 110105:- 110106:- 110107:-",
    "12": "120102:- 120103:- 120104:- 120105:- 120106:- 120107:-2009",
    "13": (
        "130102:1983- 130103:1983- 130104:1983- 133023:-1996 133024:-1996 133026:-1996 "
        "133027:-1996 133028:-1996 133029:-1996"
    ),
    "14": "140121:- 140122:- 140123:- 142322:-2003 142323:-2003 142325:-2003",
    "15": "150121:- 150122:- 150221:- 150222:- 152221:- 152222:-",
    "21": "210122:- 210224:- 210321:- 210421:- 210422:- 210423:-",
    "22": "222326:-1993 222327:-1993 222402:- 222423:-1993 222424:- 222426:-",
    "23": "230722:- 232324:-1999 232325:-1999 232326:-1999 232330:-1999 232702:1981- 232721:-",
    "31": "310103:- 310104:- 310105:- 310106:- 310107:- 310108:-",
    "32": (
        "320102:1983- 320103:1983- 320104:1983- 320121:-2000 320122:-2002 320123:-2002 "
        "322121:-1983 322122:-1983 322123:-1983"
    ),
    "33": "330122:- 330123:-1994 330124:-1996 330127:- 330322:1981- 332822:-2000 332823:-2000",
    "34": "340121:- 340221:- 340421:- 340621:- 340721:- 342522:-2000",
    "35": (
        "350102:1983- 350103:1983- 350121:- 352225:-1999 352227:-1999 352228:-1999 "
        "352229:-1999 352230:-1999"
    ),
    "36": "360102:1983- 360121:- 360122:- 362226:-2000 362227:-2000 362228:-2000 362229:-2000",
    "37": (
        "370102:1983- 370123:-2001 370521:1982- 370522:1982- 372321:-2000 372323:-2000 "
        "372324:-2000 372325:-2000 372328:-2000"
    ),
    "41": (
        "410102:1983- 410103:1983- 410104:1983- 412721:-2000 412722:-2000 412723:-2000 "
        "412724:-2000 412725:-2000 412726:-2000"
    ),
    "42": "422822:- 422823:- 422825:- 422826:- 422827:- 422828:-",
    "43": "430121:- 430122:- 430221:- 430321:- 433122:- 433123:-",
    "44": (
        "440103:1983- 440104:1983- 440105:1983- 440121:-1993 440122:-1994 440123:-1988 "
        "440125:-1993 440126:-1992 440221:-2004"
    ),
    "45": (
        "450102:1983- 450103:1983- 450321:1981- 452122:-2002 452123:-2002 452124:-2002 "
        "452126:-2002 452127:-2002 452128:-2002"
    ),
    "46": (
        "460025:1988-2002 460026:1988-2002 460027:1988-2002 460028:1988-2002 460030:1988-2002 "
        "460031:1988-2002 460105:2002- 460106:2002- 460107:2002-"
    ),
    "50": "500102:1997- 500103:1997- 500104:1997- 500105:1997- 500106:1997- 500107:1997-",
    "51": "510121:- 510122:- 510321:- 510421:- 510422:- 513221:-",
    "52": "520203:- 522222:- 522223:- 522224:- 522225:- 522226:-",
    "53": "530121:- 530122:- 530124:- 532322:- 532323:- 532324:-",
    "54": "540121:- 540122:- 540123:- 540124:- 540125:- 540126:-",
    "61": "610322:- 610323:- 610324:- 610326:- 610327:- 610328:-",
    "62": "620121:- 620122:- 620123:- 622921:- 622922:- 622923:-",
    "63": "630121:- 632121:- 632122:- 632123:- 632126:- 632127:-",
    "64": "640121:- 640122:- 640221:- 640222:-2003 642221:-2001 642222:-2001",
    "65": "650121:- 652122:- 652123:- 652222:- 652223:- 652323:-",
}

# Basic courts per province: "code:city:county" (current GB/T 2260 names); the court id is the
# county code, its designation the province abbreviation and the last four digits. The first
# six cities of each province, two counties each; the municipalities' districts.
_COURTS: dict[str, str] = {
    "11": (
        "110102:市辖区:西城区 110105:市辖区:朝阳区 110106:市辖区:丰台区 110107:市辖区:石景山区 110108:市辖区:海淀区 "
        "110109:市辖区:门头沟区 110111:市辖区:房山区 110112:市辖区:通州区 110113:市辖区:顺义区 110114:市辖区:昌平区 "
        "110115:市辖区:大兴区 110116:市辖区:怀柔区"
    ),
    "12": (
        "120102:市辖区:河东区 120103:市辖区:河西区 120104:市辖区:南开区 120105:市辖区:河北区 120106:市辖区:红桥区 "
        "120110:市辖区:东丽区 120111:市辖区:西青区 120112:市辖区:津南区 120113:市辖区:北辰区 120114:市辖区:武清区 "
        "120115:市辖区:宝坻区 120116:市辖区:滨海新区"
    ),
    "13": (
        "130102:石家庄市:长安区 130104:石家庄市:桥西区 130202:唐山市:路南区 130203:唐山市:路北区 130302:秦皇岛市:海港区 "
        "130303:秦皇岛市:山海关区 130402:邯郸市:邯山区 130403:邯郸市:丛台区 130502:邢台市:襄都区 130503:邢台市:信都区 "
        "130602:保定市:竞秀区 130606:保定市:莲池区"
    ),
    "14": (
        "140105:太原市:小店区 140106:太原市:迎泽区 140212:大同市:新荣区 140213:大同市:平城区 140302:阳泉市:城区 "
        "140303:阳泉市:矿区 140403:长治市:潞州区 140404:长治市:上党区 140502:晋城市:城区 140521:晋城市:沁水县 "
        "140602:朔州市:朔城区 140603:朔州市:平鲁区"
    ),
    "15": (
        "150102:呼和浩特市:新城区 150103:呼和浩特市:回民区 150202:包头市:东河区 150203:包头市:昆都仑区 150302:乌海市:海勃湾区 "
        "150303:乌海市:海南区 150402:赤峰市:红山区 150403:赤峰市:元宝山区 150502:通辽市:科尔沁区 150521:通辽市:科尔沁左翼中旗 "
        "150602:鄂尔多斯市:东胜区 150603:鄂尔多斯市:康巴什区"
    ),
    "21": (
        "210102:沈阳市:和平区 210103:沈阳市:沈河区 210202:大连市:中山区 210203:大连市:西岗区 210302:鞍山市:铁东区 "
        "210303:鞍山市:铁西区 210402:抚顺市:新抚区 210403:抚顺市:东洲区 210502:本溪市:平山区 210503:本溪市:溪湖区 "
        "210602:丹东市:元宝区 210603:丹东市:振兴区"
    ),
    "22": (
        "220102:长春市:南关区 220103:长春市:宽城区 220202:吉林市:昌邑区 220203:吉林市:龙潭区 220302:四平市:铁西区 "
        "220303:四平市:铁东区 220402:辽源市:龙山区 220403:辽源市:西安区 220502:通化市:东昌区 220503:通化市:二道江区 "
        "220602:白山市:浑江区 220605:白山市:江源区"
    ),
    "23": (
        "230102:哈尔滨市:道里区 230103:哈尔滨市:南岗区 230202:齐齐哈尔市:龙沙区 230203:齐齐哈尔市:建华区 230302:鸡西市:鸡冠区 "
        "230303:鸡西市:恒山区 230402:鹤岗市:向阳区 230403:鹤岗市:工农区 230502:双鸭山市:尖山区 230503:双鸭山市:岭东区 "
        "230602:大庆市:萨尔图区 230603:大庆市:龙凤区"
    ),
    "31": (
        "310104:市辖区:徐汇区 310105:市辖区:长宁区 310106:市辖区:静安区 310107:市辖区:普陀区 310109:市辖区:虹口区 "
        "310110:市辖区:杨浦区 310112:市辖区:闵行区 310113:市辖区:宝山区 310114:市辖区:嘉定区 310115:市辖区:浦东新区 "
        "310116:市辖区:金山区 310117:市辖区:松江区"
    ),
    "32": (
        "320102:南京市:玄武区 320104:南京市:秦淮区 320205:无锡市:锡山区 320206:无锡市:惠山区 320302:徐州市:鼓楼区 "
        "320303:徐州市:云龙区 320402:常州市:天宁区 320404:常州市:钟楼区 320505:苏州市:虎丘区 320506:苏州市:吴中区 "
        "320612:南通市:通州区 320613:南通市:崇川区 320583:苏州市:昆山市"
    ),
    "33": (
        "330102:杭州市:上城区 330105:杭州市:拱墅区 330203:宁波市:海曙区 330205:宁波市:江北区 330302:温州市:鹿城区 "
        "330303:温州市:龙湾区 330402:嘉兴市:南湖区 330411:嘉兴市:秀洲区 330502:湖州市:吴兴区 330503:湖州市:南浔区 "
        "330602:绍兴市:越城区 330603:绍兴市:柯桥区"
    ),
    "34": (
        "340102:合肥市:瑶海区 340103:合肥市:庐阳区 340202:芜湖市:镜湖区 340207:芜湖市:鸠江区 340302:蚌埠市:龙子湖区 "
        "340303:蚌埠市:蚌山区 340402:淮南市:大通区 340403:淮南市:田家庵区 340503:马鞍山市:花山区 340504:马鞍山市:雨山区 "
        "340602:淮北市:杜集区 340603:淮北市:相山区"
    ),
    "35": (
        "350102:福州市:鼓楼区 350103:福州市:台江区 350203:厦门市:思明区 350205:厦门市:海沧区 350302:莆田市:城厢区 "
        "350303:莆田市:涵江区 350404:三明市:三元区 350405:三明市:沙县区 350502:泉州市:鲤城区 350503:泉州市:丰泽区 "
        "350602:漳州市:芗城区 350603:漳州市:龙文区"
    ),
    "36": (
        "360102:南昌市:东湖区 360103:南昌市:西湖区 360202:景德镇市:昌江区 360203:景德镇市:珠山区 360302:萍乡市:安源区 "
        "360313:萍乡市:湘东区 360402:九江市:濂溪区 360403:九江市:浔阳区 360502:新余市:渝水区 360521:新余市:分宜县 "
        "360602:鹰潭市:月湖区 360603:鹰潭市:余江区"
    ),
    "37": (
        "370102:济南市:历下区 370103:济南市:市中区 370202:青岛市:市南区 370203:青岛市:市北区 370302:淄博市:淄川区 "
        "370303:淄博市:张店区 370402:枣庄市:市中区 370403:枣庄市:薛城区 370502:东营市:东营区 370503:东营市:河口区 "
        "370602:烟台市:芝罘区 370611:烟台市:福山区"
    ),
    "41": (
        "410102:郑州市:中原区 410103:郑州市:二七区 410202:开封市:龙亭区 410203:开封市:顺河回族区 410302:洛阳市:老城区 "
        "410303:洛阳市:西工区 410402:平顶山市:新华区 410403:平顶山市:卫东区 410502:安阳市:文峰区 410503:安阳市:北关区 "
        "410602:鹤壁市:鹤山区 410603:鹤壁市:山城区"
    ),
    "42": (
        "420102:武汉市:江岸区 420103:武汉市:江汉区 420202:黄石市:黄石港区 420203:黄石市:西塞山区 420302:十堰市:茅箭区 "
        "420303:十堰市:张湾区 420502:宜昌市:西陵区 420503:宜昌市:伍家岗区 420602:襄阳市:襄城区 420606:襄阳市:樊城区 "
        "420702:鄂州市:梁子湖区 420703:鄂州市:华容区"
    ),
    "43": (
        "430102:长沙市:芙蓉区 430103:长沙市:天心区 430202:株洲市:荷塘区 430203:株洲市:芦淞区 430302:湘潭市:雨湖区 "
        "430304:湘潭市:岳塘区 430405:衡阳市:珠晖区 430406:衡阳市:雁峰区 430502:邵阳市:双清区 430503:邵阳市:大祥区 "
        "430602:岳阳市:岳阳楼区 430603:岳阳市:云溪区"
    ),
    "44": (
        "440103:广州市:荔湾区 440104:广州市:越秀区 440203:韶关市:武江区 440204:韶关市:浈江区 440303:深圳市:罗湖区 "
        "440304:深圳市:福田区 440402:珠海市:香洲区 440403:珠海市:斗门区 440507:汕头市:龙湖区 440511:汕头市:金平区 "
        "440604:佛山市:禅城区 440605:佛山市:南海区"
    ),
    "45": (
        "450102:南宁市:兴宁区 450103:南宁市:青秀区 450202:柳州市:城中区 450203:柳州市:鱼峰区 450302:桂林市:秀峰区 "
        "450303:桂林市:叠彩区 450403:梧州市:万秀区 450405:梧州市:长洲区 450502:北海市:海城区 450503:北海市:银海区 "
        "450602:防城港市:港口区 450603:防城港市:防城区"
    ),
    "46": "460105:海口市:秀英区 460106:海口市:龙华区 460202:三亚市:海棠区 460203:三亚市:吉阳区",
    "50": (
        "500102:市辖区:涪陵区 500103:市辖区:渝中区 500104:市辖区:大渡口区 500106:市辖区:沙坪坝区 500107:市辖区:九龙坡区 "
        "500108:市辖区:南岸区 500109:市辖区:北碚区 500110:市辖区:綦江区 500111:市辖区:大足区 500113:市辖区:巴南区 "
        "500114:市辖区:黔江区 500115:市辖区:长寿区"
    ),
    "51": (
        "510104:成都市:锦江区 510105:成都市:青羊区 510302:自贡市:自流井区 510303:自贡市:贡井区 510402:攀枝花市:东区 "
        "510403:攀枝花市:西区 510502:泸州市:江阳区 510503:泸州市:纳溪区 510603:德阳市:旌阳区 510604:德阳市:罗江区 "
        "510703:绵阳市:涪城区 510704:绵阳市:游仙区"
    ),
    "52": (
        "520102:贵阳市:南明区 520103:贵阳市:云岩区 520203:六盘水市:六枝特区 520204:六盘水市:水城区 520302:遵义市:红花岗区 "
        "520303:遵义市:汇川区 520402:安顺市:西秀区 520403:安顺市:平坝区 520502:毕节市:七星关区 520521:毕节市:大方县 "
        "520602:铜仁市:碧江区 520603:铜仁市:万山区"
    ),
    "53": (
        "530102:昆明市:五华区 530103:昆明市:盘龙区 530302:曲靖市:麒麟区 530303:曲靖市:沾益区 530402:玉溪市:红塔区 "
        "530403:玉溪市:江川区 530502:保山市:隆阳区 530521:保山市:施甸县 530602:昭通市:昭阳区 530621:昭通市:鲁甸县 "
        "530702:丽江市:古城区 530721:丽江市:玉龙纳西族自治县"
    ),
    "54": (
        "540102:拉萨市:城关区 540103:拉萨市:堆龙德庆区 540202:日喀则市:桑珠孜区 540221:日喀则市:南木林县 540302:昌都市:卡若区 "
        "540321:昌都市:江达县 540402:林芝市:巴宜区 540421:林芝市:工布江达县 540502:山南市:乃东区 540521:山南市:扎囊县 "
        "540602:那曲市:色尼区 540621:那曲市:嘉黎县"
    ),
    "61": (
        "610102:西安市:新城区 610103:西安市:碑林区 610202:铜川市:王益区 610203:铜川市:印台区 610302:宝鸡市:渭滨区 "
        "610303:宝鸡市:金台区 610402:咸阳市:秦都区 610403:咸阳市:杨陵区 610502:渭南市:临渭区 610503:渭南市:华州区 "
        "610602:延安市:宝塔区 610603:延安市:安塞区"
    ),
    "62": (
        "620102:兰州市:城关区 620103:兰州市:七里河区 620302:金昌市:金川区 620321:金昌市:永昌县 620402:白银市:白银区 "
        "620403:白银市:平川区 620502:天水市:秦州区 620503:天水市:麦积区 620602:武威市:凉州区 620621:武威市:民勤县 "
        "620702:张掖市:甘州区 620721:张掖市:肃南裕固族自治县"
    ),
    "63": (
        "630102:西宁市:城东区 630103:西宁市:城中区 630202:海东市:乐都区 630203:海东市:平安区 632221:海北藏族自治州:门源回族自治县 "
        "632222:海北藏族自治州:祁连县 632322:黄南藏族自治州:尖扎县 632323:黄南藏族自治州:泽库县 632521:海南藏族自治州:共和县 "
        "632522:海南藏族自治州:同德县 632621:果洛藏族自治州:玛沁县 632622:果洛藏族自治州:班玛县"
    ),
    "64": (
        "640104:银川市:兴庆区 640105:银川市:西夏区 640202:石嘴山市:大武口区 640205:石嘴山市:惠农区 640302:吴忠市:利通区 "
        "640303:吴忠市:红寺堡区 640402:固原市:原州区 640422:固原市:西吉县 640502:中卫市:沙坡头区 640521:中卫市:中宁县"
    ),
    "65": (
        "650102:乌鲁木齐市:天山区 650103:乌鲁木齐市:沙依巴克区 650202:克拉玛依市:独山子区 650203:克拉玛依市:克拉玛依区 "
        "650402:吐鲁番市:高昌区 650421:吐鲁番市:鄯善县 650502:哈密市:伊州区 650521:哈密市:巴里坤哈萨克自治县 "
        "652302:昌吉回族自治州:阜康市 652323:昌吉回族自治州:呼图壁县 652702:博尔塔拉蒙古自治州:阿拉山口市 652722:博尔塔拉蒙古自治州:精河县"
    ),
}

# Before Hainan (1988) and Chongqing (1997) were provinces, their people were registered in
# Guangdong and Sichuan: an older debtor of theirs carries a code of the province before.
_PREDECESSOR = {"46": "44", "50": "51"}

# 2020 census population in millions (rounded): the share of entries each province lists.
_POPULATION = {
    "11": 22,
    "12": 14,
    "13": 75,
    "14": 35,
    "15": 24,
    "21": 43,
    "22": 24,
    "23": 32,
    "31": 25,
    "32": 85,
    "33": 65,
    "34": 61,
    "35": 42,
    "36": 45,
    "37": 102,
    "41": 99,
    "42": 58,
    "43": 66,
    "44": 126,
    "45": 50,
    "46": 10,
    "50": 32,
    "51": 84,
    "52": 39,
    "53": 47,
    "54": 4,
    "61": 40,
    "62": 25,
    "63": 6,
    "64": 7,
    "65": 26,
}
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})

# Common surnames with rough frequencies (per mille), then given-name characters by the sex
# the ID's sequence number gives (odd: male).
_SURNAMES = (
    "王71 李70 张67 刘54 陈45 杨31 黄22 赵20 吴18 周17 徐13 孙12 马12 朱11 胡10 郭10 何9 林9 "
    "高9 罗9 郑8 梁7 谢6 宋6 唐6 许6 韩6 邓5 冯5 曹5 彭5 曾5 肖5 田5 董5 潘4 袁4 蔡4 蒋4 余4 "
    "于4 杜4 叶4 程4 魏4 苏3 吕3 丁3 任3 卢3 姚3 沈3 钟3 姜3 崔3 谭3 陆3 范2 汪2 廖2 石2 金2 "
    "韦2 贾2 夏2 付2 方2 邹2 熊2 白2 孟2 秦2 邱2 侯2 江2 尹2 薛2 闫2 段2 雷2 龙1 黎1 史1 陶1 "
    "贺1 毛1 郝1 顾1 龚1 邵1 万1 覃1 武1 钱1 戴1 严1 欧阳1 诸葛1 司马1"
)
_MALE = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清"
    "飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善"
    "厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家"
)
_FEMALE = (
    "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺"
    "媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓仪荷丹蓉眉"
)
_TRADE_NAME = "鑫达盛泰恒通华兴宏源正昌隆丰瑞祥金利远航新创博信德安嘉诚聚汇宇辰启明天成永荣"
_INDUSTRY = (
    "建筑工程",
    "房地产开发",
    "商贸",
    "贸易",
    "实业",
    "科技",
    "投资",
    "建材",
    "物流",
    "餐饮管理",
    "机械设备",
    "纺织",
    "电子科技",
    "农业开发",
    "汽车销售",
    "装饰工程",
    "劳务",
    "化工",
)
_FORMS = ("有限公司",) * 14 + ("有限责任公司",) * 4 + ("股份有限公司", "实业有限公司")
_CLAIMS = ("借款", "货款", "工程款", "租金", "劳务报酬", "赔偿款", "欠款", "承揽款")

# (ground, share per mille, 失信行为的具体情形 as the published list words it)
_GROUNDS: tuple[tuple[bl.Ground, int, str], ...] = (
    (bl.Ground.REFUSED_WITH_ABILITY, 450, "有履行能力而拒不履行生效法律文书确定义务"),
    (bl.Ground.OBSTRUCTED_EXECUTION, 30, "以伪造证据、暴力、威胁等方法妨碍、抗拒执行"),
    (bl.Ground.EVADED_EXECUTION, 70, "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行"),
    (bl.Ground.VIOLATED_PROPERTY_REPORTING, 350, "违反财产报告制度"),
    (bl.Ground.VIOLATED_CONSUMPTION_BAN, 50, "违反限制消费令"),
    (bl.Ground.BREACHED_SETTLEMENT, 50, "无正当理由拒不履行执行和解协议"),
)
ORGANISATION_SHARE = 0.15
SERIOUS_SHARE = 0.05  # of grounds (2)-(6): the period extended by 12-36 months (art. 2)
APPLICANT_SHARE = 0.3  # listings on a creditor's application (art. 5)

# -- check characters ----------------------------------------------------------------------------

_RIC_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_RIC_CHECK = "10X98765432"  # GB 11643: the check character for (weighted sum mod 11)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_check(first17: str) -> str:
    """The GB 11643 check character of a resident ID's first 17 digits (ISO 7064 MOD 11-2)."""
    return _RIC_CHECK[sum(int(d) * w for d, w in zip(first17, _RIC_WEIGHTS, strict=True)) % 11]


def organisation_code_check(first8: str) -> str:
    """The GB 11714 check character of an organisation code's first 8 characters."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def credit_code_check(first17: str) -> str:
    """The GB 32100 check character of a unified social credit code's first 17 characters."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[-total % 31]


# -- precomputed tables ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SynthCourt:
    """A court that lists debtors, with what the generator writes about it and its area."""

    court_id: str
    designation: str
    name: str
    province: str  # two-digit code
    region: str  # six-digit GB/T 2260 code its area's companies are registered under
    place: str  # the place name its area's companies carry, e.g. 昆山
    record: dict[str, str]  # the Avro Court record
    trial: tuple[str, str]  # (designation, name) of the court whose 民初 judgments it enforces
    appeal: tuple[str, str] | None  # the intermediate court of its city (民终), if any
    arbitration: tuple[str, str]  # (name, short name) of its city's arbitration commission


def _place(name: str) -> str:
    """苏州市 → 苏州, 昆山市 → 昆山, 长沙县 → 长沙; longer names (autonomous counties,
    banners, prefectures) are kept whole."""
    return name[:-1] if len(name) == 3 and name[-1] in "市县区" else name


def _court(
    court_id: str, city: str, county: str, trial: tuple[str, str] | None = None
) -> SynthCourt:
    province = BY_CODE[court_id[:2]]
    municipal = court_id[:2] in _MUNICIPALITIES
    if len(court_id) == 4:
        name = f"{province.name}{city}中级人民法院"
    elif municipal:
        name = f"{province.name}{county}人民法院"
    elif county.endswith("区"):
        name = f"{province.name}{city}{county}人民法院"
    else:
        name = f"{province.name}{county}人民法院"
    city = province.name if municipal else city
    place = _place(county if county[-1:] in ("市", "县") and not municipal else city)
    designation = designation_from_court_id(court_id)
    appeal = None
    if not municipal:
        appeal = (designation_from_court_id(court_id[:4]), f"{province.name}{city}中级人民法院")
    return SynthCourt(
        court_id,
        designation,
        name,
        province.code,
        court_id.ljust(6, "0"),
        place,
        {"court_id": court_id, "designation": designation},
        trial or (designation, name),
        appeal,
        (f"{_place(city)}仲裁委员会", _place(city)),
    )


def _parse_courts() -> dict[str, list[SynthCourt]]:
    courts: dict[str, list[SynthCourt]] = {}
    for code, text in _COURTS.items():
        items = [item.split(":") for item in text.split()]
        basic = [_court(court_id, city, county) for court_id, city, county in items]
        higher: dict[str, SynthCourt] = {}
        for (court_id, city, _), court in zip(items, basic, strict=True):
            if code not in _MUNICIPALITIES and court_id[:4] not in higher:
                # the intermediate court enforces judgments of its city's first basic court
                higher[court_id[:4]] = _court(court_id[:4], city, "", court.trial)
        courts[code] = basic + list(higher.values())
    return courts


NATIONAL_COURTS: dict[str, list[SynthCourt]] = _parse_courts()
"""The generator's courts per province: basic courts, then the intermediate courts of their
cities (municipalities: basic courts only). An intermediate court enforces judgments of one
of its basic courts."""
_BY_ID: dict[str, SynthCourt] = {c.court_id: c for cs in NATIONAL_COURTS.values() for c in cs}


def synth_court(court_id: str, name: str | None = None) -> SynthCourt:
    """The generator's view of a court id (e.g. one of the participant directory's): the
    national table's when it has the court, otherwise built from the id, its area taken from a
    court of the same province.

    Raises:
        ValidationError: ``COURT_ID_MALFORMED`` (not a court id of a province).
    """
    known = _BY_ID.get(court_id)
    designation = designation_from_court_id(court_id)
    if known is not None:
        return known if name is None else _with_name(known, name)
    neighbours = NATIONAL_COURTS.get(court_id[:2])
    if not neighbours:
        raise ValidationError(
            f"court {court_id} is not a court of a province: the generator lists only those",
            code="COURT_ID_MALFORMED",
        )
    area = next((c for c in neighbours if c.court_id.startswith(court_id)), neighbours[0])
    own_name = name or f"{BY_CODE[court_id[:2]].name}{designation}人民法院"
    return SynthCourt(
        court_id,
        designation,
        own_name,
        area.province,
        area.region,
        area.place,
        {"court_id": court_id, "designation": designation},
        area.trial,
        area.appeal,
        area.arbitration,
    )


def _with_name(court: SynthCourt, name: str) -> SynthCourt:
    trial = (court.designation, name) if court.trial[0] == court.designation else court.trial
    return SynthCourt(
        court.court_id,
        court.designation,
        name,
        court.province,
        court.region,
        court.place,
        court.record,
        trial,
        court.appeal,
        court.arbitration,
    )


def _id_regions() -> dict[tuple[str, int], tuple[str, ...]]:
    """(province, birth year) → the address codes a person born then may carry."""
    spans: dict[str, list[tuple[str, int, int]]] = {}
    for province, text in _ID_REGIONS.items():
        for item in text.split():
            code, years = item.split(":")
            first, last = years.split("-")
            spans.setdefault(province, []).append((code, int(first or 0), int(last or 9999)))
    table: dict[tuple[str, int], tuple[str, ...]] = {}
    for province in _POPULATION:
        for year in range(1900, 2100):
            source = province
            codes = tuple(c for c, a, b in spans[source] if a <= year <= b)
            if not codes and province in _PREDECESSOR:
                source = _PREDECESSOR[province]
                codes = tuple(c for c, a, b in spans[source] if a <= year <= b)
            table[province, year] = codes or tuple(c for c, _, _ in spans[source])
    return table


_ID_CODES = _id_regions()
_REGION_SUM = {
    code: sum(int(d) * w for d, w in zip(code, _RIC_WEIGHTS[:6], strict=True))
    for codes in _ID_CODES.values()
    for code in codes
}
_SEQUENCES = tuple(
    (f"{n:03d}", sum(int(d) * w for d, w in zip(f"{n:03d}", _RIC_WEIGHTS[14:], strict=True)))
    for n in range(1000)
)


def _expand(weighted: Sequence[tuple[Any, int]]) -> tuple[Any, ...]:
    """A tuple holding each item ``weight`` times: a weighted draw is one index."""
    return tuple(item for item, weight in weighted for _ in range(weight))


def _surname(item: str) -> tuple[str, int]:
    name = item.rstrip("0123456789")
    return name, int(item[len(name) :])


_SURNAME_DRAW: tuple[str, ...] = _expand([_surname(item) for item in _SURNAMES.split()])
# (ground, its conduct, whether it lists until performed), as text: enum lookups cost per entry
_GROUND_DRAW: tuple[tuple[str, str, bool], ...] = _expand(
    [((g.value, c, g is bl.Ground.REFUSED_WITH_ABILITY), n) for g, n, c in _GROUNDS]
)
_ACTIVE = bl.Status.ACTIVE.value
_PROVINCE_DRAW: tuple[str, ...] = _expand(list(_POPULATION.items()))
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHINA_OFFSET_S = 8 * 3600


def _at(ordinal: int, seconds: float) -> datetime:
    """``seconds`` after 00:00 China time on a China day, to the millisecond (UTC)."""
    ms = int(((ordinal - _EPOCH_ORDINAL) * 86400 - _CHINA_OFFSET_S + seconds) * 1000)
    return datetime.fromtimestamp(ms / 1000, UTC)  # exact: rounded to the microsecond


def entry_id(seed: int, index: int) -> str:
    """The id of entry ``index`` of seed ``seed``: unique per (seed, index), stable."""
    return f"bl-{seed}-{index:08d}"


class _Generator:
    """The per-entry draws, over tables computed once per (courts, as_of)."""

    def __init__(self, courts: Sequence[str | SynthCourt] | None, as_of: datetime) -> None:
        if as_of.tzinfo is None:
            raise ValidationError("as_of must carry a time zone", code="SYNTH_INVALID")
        if courts is None:
            weighted: list[tuple[SynthCourt, int]] = []
            for province, listed in NATIONAL_COURTS.items():
                basic = [c for c in listed if len(c.court_id) == 6]
                higher = [c for c in listed if len(c.court_id) == 4]
                share = 100 if not higher else 88  # intermediate courts list 12 % of entries
                weighted += [(c, _POPULATION[province] * share // len(basic)) for c in basic]
                weighted += [(c, _POPULATION[province] * 12 // len(higher)) for c in higher]
            self.courts: tuple[SynthCourt, ...] = _expand(weighted)
        else:
            self.courts = tuple(c if isinstance(c, SynthCourt) else synth_court(c) for c in courts)
            if not self.courts:
                raise ValidationError("no courts to list from", code="SYNTH_INVALID")
        self.as_of = as_of
        self.as_of_ordinal = as_of.astimezone(CHINA).date().toordinal()
        self._days: dict[int, tuple[int, int, int]] = {}
        self._births: dict[int, tuple[str, int, int]] = {}
        self._years: dict[int, int] = {}
        self._expiry: dict[tuple[int, int], datetime | None] = {}
        self._applicants: dict[tuple[str, int], dict[str, Any]] = {}

    # -- dates ---------------------------------------------------------------------------------

    def _day(self, ordinal: int) -> tuple[int, int, int]:
        """A China day: (its year, the earliest and the latest birth ordinal of an adult aged
        18-80 on it)."""
        found = self._days.get(ordinal)
        if found is None:
            d = date.fromordinal(ordinal)
            day = 28 if (d.month, d.day) == (2, 29) else d.day
            latest = date(d.year - bl.ADULT_AGE, d.month, day).toordinal()
            earliest = date(d.year - 80, d.month, day).toordinal() + 1
            found = self._days[ordinal] = (d.year, earliest, latest)
        return found

    def _year(self, ordinal: int) -> int:
        year = self._years[ordinal] = date.fromordinal(ordinal).year
        return year

    def _birth(self, ordinal: int) -> tuple[str, int, int]:
        """A birth day: (YYYYMMDD, its weighted digit sum in a resident ID, its year)."""
        found = self._births.get(ordinal)
        if found is None:
            d = date.fromordinal(ordinal)
            text = f"{d.year:04d}{d.month:02d}{d.day:02d}"
            weights = _RIC_WEIGHTS[6:14]
            found = (text, sum(int(c) * w for c, w in zip(text, weights, strict=True)), d.year)
            self._births[ordinal] = found
        return found

    def _expires(self, ordinal: int, months: int | None) -> datetime | None:
        if months is None:
            return None
        key = (ordinal, months)
        if key not in self._expiry:
            noon = _EPOCH + timedelta(seconds=(ordinal - _EPOCH_ORDINAL) * 86400 + 4 * 3600)
            self._expiry[key] = bl.expires_at(noon, months)
        return self._expiry[key]

    # -- parties -------------------------------------------------------------------------------

    def person(self, r: Any, listed: int, province: str) -> tuple[str, str]:
        """(name, resident ID) of an adult aged 18-80 on China day ``listed``, most likely
        registered in ``province``."""
        _, earliest, latest = self._day(listed)
        # two draws: ages cluster around the middle (debtors are seldom 18 or 80)
        ymd, birth_sum, year = self._birth(earliest + int((r() + r()) / 2 * (latest - earliest)))
        if r() < 0.15:
            province = _PROVINCE_DRAW[int(r() * len(_PROVINCE_DRAW))]
        codes = _ID_CODES[province, year]
        region = codes[int(r() * len(codes))]
        sequence, sequence_sum = _SEQUENCES[int(r() * 1000)]
        check = _RIC_CHECK[(_REGION_SUM[region] + birth_sum + sequence_sum) % 11]
        given = _MALE if int(sequence[2]) % 2 else _FEMALE
        name = _SURNAME_DRAW[int(r() * len(_SURNAME_DRAW))] + given[int(r() * len(given))]
        if r() < 0.75:
            name += given[int(r() * len(given))]
        return name, f"{region}{ymd}{sequence}{check}"

    @staticmethod
    def organisation(r: Any, court: SynthCourt) -> tuple[str, str]:
        """(name, unified social credit code) of an enterprise registered in the court's area."""
        trade = _TRADE_NAME[int(r() * len(_TRADE_NAME))] + _TRADE_NAME[int(r() * len(_TRADE_NAME))]
        name = (
            court.place
            + trade
            + _INDUSTRY[int(r() * len(_INDUSTRY))]
            + _FORMS[int(r() * len(_FORMS))]
        )
        body = "MA" + "".join(_USCC_ALPHABET[int(r() * 31)] for _ in range(6))
        first17 = f"91{court.region}{body}{organisation_code_check(body)}"
        return name, first17 + credit_code_check(first17)

    def applicant(self, r: Any, court: SynthCourt, listed: int) -> dict[str, Any]:
        """The creditor who applied for the listing: a bank branch of the area or a person."""
        if r() < 0.4:
            name, number = self.person(r, listed, court.province)
            return {
                "kind": "PERSON",
                "name": name,
                "id_number": number,
                "id_type": None,
                "nationality": None,
            }
        key = (court.region, int(r() * len(_BANKS)))
        found = self._applicants.get(key)
        if found is None:
            own = random.Random(f"courtbus-synth-bank:{key[0]}:{key[1]}").random
            _, code = self.organisation(own, court)
            city = court.arbitration[1]
            name = f"{_BANKS[key[1]]}股份有限公司{city}分行"
            found = {
                "kind": "ORGANISATION",
                "name": name,
                "id_number": code,
                "id_type": None,
                "nationality": None,
            }
            self._applicants[key] = found
        return found

    # -- one entry -----------------------------------------------------------------------------

    def common(self, r: Any, eid: str) -> tuple[dict[str, Any], SynthCourt, int]:
        """The fields a listing and a list entry share, the listing court and China day."""
        court = self.courts[int(r() * len(self.courts))]
        ground, conduct, until_performed = _GROUND_DRAW[int(r() * len(_GROUND_DRAW))]
        serious = False
        period: int | None = None
        if until_performed:
            days = 1 + int(r() ** 1.6 * 3650)  # until performed: listed up to 10 years ago
        else:
            serious = r() < SERIOUS_SHARE
            low, high = bl.EXTENSION_MONTHS
            period = bl.PERIOD_MONTHS + (low + int(r() * (high - low + 1)) if serious else 0)
            days = 1 + int(r() * (period * 30 - 5))  # still within its period on as_of
        listed = self.as_of_ordinal - days
        filed = listed - 15 - int(r() ** 1.5 * 700)
        case_year = self._years.get(filed) or self._year(filed)
        basic = len(court.court_id) == 6
        type_code = "执恢" if r() < 0.08 else "执"
        sequence = 1 + int(r() * (8000 if basic else 600))
        case_text = f"({case_year}){court.designation}{type_code}{sequence}号"
        title_year = case_year - (r() < 0.6)
        t = r()
        number = 1 + int(r() * 20000)
        if t < 0.75 or (t < 0.88 and court.appeal is None):
            title_designation, title_issuer = court.trial
            title_number = f"({title_year}){title_designation}民初{number}号"
        elif t < 0.88 and court.appeal is not None:
            title_designation, title_issuer = court.appeal
            title_number = f"({title_year}){title_designation}民终{number // 4 + 1}号"
        else:
            title_issuer, short = court.arbitration
            title_number = f"({title_year}){short}仲裁字第{number // 10 + 1}号"
        representative: str | None = None
        representative_id: str | None = None
        if r() < ORGANISATION_SHARE:
            name, number_id = self.organisation(r, court)
            representative, representative_id = self.person(r, listed, court.province)
            debtor = {
                "kind": "ORGANISATION",
                "name": name,
                "id_number": number_id,
                "id_type": None,
                "nationality": None,
            }
        else:
            name, number_id = self.person(r, listed, court.province)
            debtor = {
                "kind": "PERSON",
                "name": name,
                "id_number": number_id,
                "id_type": None,
                "nationality": None,
            }
        amount = round(10 ** (3 + 3.7 * r() ** 1.4), -2 if r() < 0.7 else 2)
        payload = {
            "entry_id": eid,
            "case_number": {
                "text": case_text,
                "year": case_year,
                "court_id": court.court_id,
                "type_code": type_code,
                "sequence": sequence,
            },
            "listing_court": court.record,
            "debtor": debtor,
            "legal_representative": representative,
            "legal_representative_id": representative_id,
            "ground": ground,
            "serious": serious,
            "period_months": period,
            "obligation": f"向申请执行人支付{_CLAIMS[int(r() * len(_CLAIMS))]}{amount:,.2f}元及利息",
            "performance": "全部未履行" if r() < 0.88 else "部分未履行",
            "conduct": conduct,
            "title_issuer": title_issuer,
            "title_number": title_number,
            "filed_at": _at(filed, 32400 + r() * 28800),  # 09:00-17:00
            "listed_at": _at(listed, 30600 + r() * 34200),  # 08:30-18:00
        }
        return payload, court, listed

    def listing(self, r: Any, eid: str) -> dict[str, Any]:
        payload, court, listed = self.common(r, eid)
        applicant = self.applicant(r, court, listed) if r() < APPLICANT_SHARE else None
        payload |= {
            "applicant": applicant,
            "security_provided": False,
            "sealed_property_sufficient": False,
        }
        return payload

    def entry(self, r: Any, eid: str) -> dict[str, Any]:
        payload, _, listed = self.common(r, eid)
        payload |= {
            "status": _ACTIVE,
            "expires_at": self._expires(listed, payload["period_months"]),
            "updated_at": payload["listed_at"],
            "delisted_at": None,
            "reason": None,
            "version": 1,
        }
        return payload


_BANKS = (
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "中国邮政储蓄银行",
    "招商银行",
    "兴业银行",
    "中信银行",
    "上海浦东发展银行",
    "中国民生银行",
    "平安银行",
)


def _payloads(
    kind: str,
    count: int,
    seed: int,
    start: int,
    courts: Sequence[str | SynthCourt] | None,
    as_of: datetime,
) -> Iterator[dict[str, Any]]:
    if count < 0 or start < 0:
        raise ValidationError(
            f"count and start must not be negative (got {count}, {start})", code="SYNTH_INVALID"
        )
    generator = _Generator(courts, as_of)
    make = generator.listing if kind == "listing" else generator.entry
    index, end = start, start + count
    while index < end:
        block = index // BLOCK
        r = random.Random(f"courtbus-synth:{seed}:{block}").random
        for skipped in range(block * BLOCK, index):  # a window starting inside the block
            make(r, entry_id(seed, skipped))
        stop = min(end, (block + 1) * BLOCK)
        while index < stop:
            yield make(r, entry_id(seed, index))
            index += 1


def listing_payloads(
    count: int,
    *,
    seed: int = 0,
    start: int = 0,
    courts: Sequence[str | SynthCourt] | None = None,
    as_of: datetime = AS_OF,
) -> Iterator[dict[str, Any]]:
    """``count`` ``DebtorListed`` payloads (every schema field), entries ``start`` onwards.

    ``courts``: the listing courts, drawn uniformly (court ids or :func:`synth_court`); None:
    the national table, weighted by the provinces' population. Entry ``i`` depends only on
    (``seed``, ``i``, ``courts``, ``as_of``). Times are aware datetimes (UTC).

    Raises:
        ValidationError: ``SYNTH_INVALID`` (a negative count or start, no courts, a naive
            ``as_of``) or ``COURT_ID_MALFORMED`` (a court id the generator cannot list from).
    """
    return _payloads("listing", count, seed, start, courts, as_of)


def entry_payloads(
    count: int,
    *,
    seed: int = 0,
    start: int = 0,
    courts: Sequence[str | SynthCourt] | None = None,
    as_of: datetime = AS_OF,
) -> Iterator[dict[str, Any]]:
    """``count`` ``BlacklistEntry`` payloads as the blacklist service publishes them on
    ``blacklist.entries``: ACTIVE, version 1, ``expires_at`` the end of the period (None for
    ground (1)); arguments as :func:`listing_payloads`.

    Raises:
        ValidationError: as :func:`listing_payloads`.
    """
    return _payloads("entry", count, seed, start, courts, as_of)


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload for JSON: datetimes as ISO 8601 text (nested records are left as they are,
    they hold no datetimes)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in payload.items()}
