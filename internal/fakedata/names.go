// Package fakedata holds the name lists the benchmark and data-generating tools share. It is
// for tools only: nothing the service runs may depend on it.
package fakedata

import "strings"

// FirstNames are common US given names, most common first (lower case).
var FirstNames = strings.Fields(`james mary robert patricia john jennifer michael linda david elizabeth
william barbara richard susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy
matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily andrew donna joshua
michelle kenneth carol kevin amanda brian dorothy george melissa timothy deborah ronald stephanie edward
rebecca jason sharon jeffrey laura ryan cynthia jacob kathleen gary amy nicholas angela eric shirley
jonathan anna stephen brenda larry pamela justin emma scott nicole brandon helen benjamin samantha samuel
katherine gregory christine alexander debra frank rachel patrick carolyn raymond janet jack catherine
dennis maria jerry heather tyler diane aaron ruth jose julie adam olivia nathan joyce henry virginia
douglas victoria zachary kelly peter lauren kyle christina noah joan ethan evelyn jeremy judith walter
megan christian andrea keith cheryl roger hannah terry jacqueline austin martha sean gloria gerald teresa
carl ann harold sara dylan madison arthur frances lawrence kathryn jordan janice jesse jean bryan abigail
billy alice bruce judy gabriel sophia joe grace logan denise albert amber willie doris alan marilyn
juan danielle wayne beverly elijah isabella randy theresa roy diana vincent natalie ralph brittany
eugene charlotte russell marie bobby kayla mason alexis philip lori louis`)

// LastNames are common US family names, most common first (lower case).
var LastNames = strings.Fields(`smith johnson williams brown jones garcia miller davis rodriguez martinez
hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white
harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips evans turner
diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan
cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez wood james
bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez
powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales fisher vasquez
simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace moreno west cole
hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison
fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker guzman burns
crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes
palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels
ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley spencer hawkins arnold pierce
hansen peters santos hart bradley knight elliott cunningham duncan armstrong hudson carroll lane riley
andrews ruiz obrien mueller oconnor schneider weber fischer wagner becker hoffmann schulz koch richter`)
